from api.crud import crud_router
from domain.taxes import TAXES

router = crud_router(TAXES)
