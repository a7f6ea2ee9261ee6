"""dstraight: the helper package of The Straight Dope, JAX edition."""

__version__ = "0.1.0"
