"""Follow-up sessions with therapists: availability, bookings, outcomes and calendar feeds."""
