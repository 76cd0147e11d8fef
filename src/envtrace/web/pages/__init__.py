"""Server-rendered pages: the public portal, log in/out, the staff console, administration."""
