"""Point of sale: terminals, sessions that close to the cent, orders that move stock and
post once (with their session), loyalty points on a ledger. Issue 12."""
