"""Outbound channels: one small adapter per way of reaching a person (see ``base``)."""
