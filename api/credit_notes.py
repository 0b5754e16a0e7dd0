from api.crud import crud_router
from domain.documents.credit_notes import CREDIT_NOTES

router = crud_router(CREDIT_NOTES)
