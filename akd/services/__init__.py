"""Domain operations called by the API: deploy, dispatch, session control."""
