"""The surveys service: anonymous post-event feedback and the programme's results."""
