"""CRM: pipelines with ordered stages, deals with stage probability and history, the
weighted forecast, leads that convert without duplicates, activities and campaigns."""
