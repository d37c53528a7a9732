"""Pull requests on GitHub: which submissions a pull request touches (`cwcontrib github changed`, GitPython) and
the one sticky report comment plus commit status (`cwcontrib github comment`, PyGithub). Both libraries are
imported inside the functions that use them, never when cwcontrib starts."""
