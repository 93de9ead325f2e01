"""Infrastructure shared by every feature: database, errors, transactions, access control, time."""
