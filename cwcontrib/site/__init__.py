"""The catalog as a static website (issue 17): `cwcontrib site build`."""
