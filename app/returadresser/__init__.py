"""Return addresses: where an agency's own login flow may have the register send a resident
back to after the confirmation dialog (`?returner_til=`). The operator registers them per
organisation (`krr returadresser`); app.returadresser.regler decides what is allowed."""
