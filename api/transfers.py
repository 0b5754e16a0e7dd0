from api.crud import crud_router
from domain.banking.transfers import TRANSFERS

router = crud_router(TRANSFERS)
