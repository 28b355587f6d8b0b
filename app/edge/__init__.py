"""The one entrance: every request passes here, and here the features are composed into the
service."""
