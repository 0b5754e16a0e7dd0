from api.crud import crud_router
from domain.banking.accounts import ACCOUNTS

router = crud_router(ACCOUNTS)
