from api.crud import crud_router
from domain.categories import CATEGORIES

router = crud_router(CATEGORIES)
