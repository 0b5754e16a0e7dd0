from api.crud import crud_router
from domain.items import ITEMS

router = crud_router(ITEMS)
