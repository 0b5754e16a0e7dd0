"""Inventory: warehouses, the stock ledger with its valuation, transfers, adjustments and the
stock reads. Other areas move goods through `domain.inventory.stock`."""
