"""The invitations service: invitation-only participation, RSVP links, capacity and waiting list."""
