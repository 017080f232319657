"""codeloop: run model-written code safely and fast; judge it so it cannot cheat."""

__version__ = "0.1.0"
