"""Sales and purchase orders: lines, progress by quantities, stock through the stock
ledger, invoices and bills through the documents area (`flow.py` says the shared rules)."""
