from api.crud import crud_router
from domain.contacts import CONTACTS

router = crud_router(CONTACTS)
