from api.crud import crud_router
from domain.banking.transactions import TRANSACTIONS

router = crud_router(TRANSACTIONS)
