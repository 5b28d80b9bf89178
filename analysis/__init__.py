"""dealer-voice: the customer-voice workbench of a car importer's dealer network."""

__version__ = "0.1.0"
