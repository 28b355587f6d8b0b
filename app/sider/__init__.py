"""Server-rendered pages for people (the access managers' page, login): one layout, one style
sheet served by the service, one set of security headers."""
