"""Users, roles, agency membership, bearer tokens and login throttling."""
