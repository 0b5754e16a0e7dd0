from api.crud import crud_router
from domain.currencies import CURRENCIES

router = crud_router(CURRENCIES)
