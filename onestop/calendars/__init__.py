"""Working calendars in the service: database overrides, agency hours, versions, public API."""
