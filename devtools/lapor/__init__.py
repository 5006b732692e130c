"""A local stand-in for SP4N-LAPOR!'s integration API (development and tests): ``server.LaporServer``."""
