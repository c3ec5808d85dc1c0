"""Checks of the ``sam build`` output."""
