"""The notifications service: e-mail with calendar invitations, the in-app feed
and partner webhooks, all driven by the other services' topics."""
