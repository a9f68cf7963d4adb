"""Code the built-in components share; private to ``nettls.components``."""
