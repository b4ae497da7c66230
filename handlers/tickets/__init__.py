"""Ticket operations by concern; ``handlers.ticket_service.TicketService`` composes them."""
