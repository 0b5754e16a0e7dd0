"""Purchase orders (`/api/purchases/orders`): an order to a supplier, confirmed, received in
parts, billed in parts, completed; or cancelled.

- Receiving brings the units in at the order's price: each line's part is valued at its
  net (after discount, before tax, in the base currency at the order's rate), posting debit
  inventory / credit goods received not billed (`received_not_billed`) through the stock
  ledger. A line without a tracked item (a service, free text) accrues the same way:
  debit the order's expense category / credit received not billed, so every received unit
  waits on that one account for its bill.
- Billing makes a numbered bill for received units not yet billed: three-way matching
  (order, receipt, bill); billing more than was received is 409 `over_bill`, a bill with
  nothing received 409 `nothing_to_bill`. The bill carries `order_id`, so it moves no stock
  and its net clears received not billed instead of an expense account (the documents'
  posting). Its parts are valued by the same line totals as the receipts, so billing what
  was received clears the account exactly (up to rounding when one bill groups receipts
  that were rounded apart, or at another exchange rate: the difference stays there, as a
  price variance an accountant clears).
- Cancelling stops further receipts; what was received stays (a return is its own
  movement) and can still be billed. A fully received order cannot be cancelled (409).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.documents.documents import DOCUMENTS
from domain.documents.forms import ContentFields
from domain.documents.lines import Lines
from domain.documents.posting import category_account
from domain.fields import Day, ObjectIdStr
from domain.money import convert_minor
from domain.orders import stocking
from domain.orders.flow import (
    DocumentIn,
    MoveIn,
    MovementOut,
    OrderDocumentOut,
    OrderFlow,
    order_collection,
    today,
)
from domain.orders.lines import OrderLineIn, PurchaseLineOut, part_net, pick, q
from domain.resources import Action, Hooks, InDays, Lifecycle, Ref, Resource, Server, Shown
from memory.store import declare

Status = Literal["draft", "confirmed", "partly_received", "received", "completed", "cancelled"]
OPEN = ("confirmed", "partly_received")

declare(order_collection("purchase_orders"))


class PurchaseOrderFields(ContentFields):
    lines: Annotated[list[OrderLineIn], Shown(list[PurchaseLineOut])] = Lines
    warehouse_id: ObjectIdStr | None = Field(
        None, description="Where the goods arrive; default: the company's default warehouse"
    )
    expected_at: Day | None = Field(None, description="When the supplier is expected to deliver")
    status: Server[Status]
    number: Server[str]
    received_percent: Server[float] = Field(description="Units received over units ordered")
    billed_percent: Server[float] = Field(description="Units billed over units ordered")
    receipts: Server[list[MovementOut]]
    bills: Server[list[OrderDocumentOut]]


FLOW = OrderFlow(
    kind="purchase_order",
    label="purchase order",
    collection="purchase_orders",
    document="bill",
    moved="received",
    documented="billed",
    movements="receipts",
    documents="bills",
    partly="partly_received",
    move_verb="receive",
    document_verb="bill",
    line_out=PurchaseLineOut,
)


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    data = {**data, "warehouse_id": await stocking.warehouse(ctx, data.get("warehouse_id"))}
    return await FLOW.before_create(ctx, data)


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "warehouse_id" in changes:
        changes = {
            **changes,
            "warehouse_id": await stocking.warehouse(ctx, changes["warehouse_id"]),
        }
    return await FLOW.before_update(ctx, existing, changes)


async def confirm(ctx: Ctx, order: dict[str, Any], body: None) -> dict[str, Any]:
    return await FLOW.save(ctx, order, {"lines": await stocking.mark_tracked(ctx, order)})


def _base(order: dict[str, Any], minor: int) -> int:
    return convert_minor(minor, q(order["rate"]), order["precision"], order["base_precision"])


async def receive(ctx: Ctx, order: dict[str, Any], body: MoveIn) -> dict[str, Any]:
    chosen = pick(
        order["lines"], body.lines, FLOW.room_to_move(order), "receive", "the order's quantity"
    )
    day = body.date.isoformat() if body.date else today()
    by_number = {line["line"]: line for line in order["lines"]}
    accrued = 0
    for number, quantity in chosen.items():
        line = by_number[number]
        value = _base(order, part_net(line, quantity, q(line["received"]), order["precision"]))
        moved = line.get("tracked") and await stocking.move(
            ctx, FLOW, order, line, quantity, day, value=value, counter="received_not_billed"
        )
        if not moved:
            accrued += value
    if accrued:
        draft = journal.Draft(
            date=day,
            description=f"Purchase order {order['number']}: services received",
            source={"type": FLOW.kind, "id": order["_id"]},
            reference=order["number"],
        )
        expense = await category_account(ctx, {"type": "bill", **order})
        draft.debit(expense, accrued).credit(
            (await system_account(ctx, "received_not_billed"))["_id"], accrued
        )
        await journal.post(ctx, draft)
    return await FLOW.record_movement(ctx, order, day, chosen)


async def bill(ctx: Ctx, order: dict[str, Any], body: DocumentIn) -> dict[str, Any]:
    why = "a bill takes received units only: three-way matching of order, receipt and bill"
    return await FLOW.make_document(ctx, order, body, why)


PURCHASE_ORDERS = Resource(
    name="purchases/orders",
    label="purchase order",
    collection="purchase_orders",
    module="orders",
    tag="Orders",
    fields=PurchaseOrderFields,
    search=("number", "contact_name", "reference"),
    filters={"status": "eq", "contact_id": "eq", "warehouse_id": "eq"},
    sort=("number", "issued_at", "total", "created_at", "updated_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create,
        before_update=_before_update,
        before_delete=FLOW.before_delete,
    ),
    lifecycle=Lifecycle(
        states=("draft", "confirmed", "partly_received", "received", "completed", "cancelled"),
        initial=("draft",),
        editable_in=("draft",),
        free=("reference", "notes", "expected_at"),
        locked_code="order_locked",
    ),
    actions=(
        Action(
            "confirm",
            "Confirm a purchase order (sent to the supplier)",
            run=confirm,
            from_states=("draft",),
            to="confirmed",
        ),
        Action(
            "receive",
            "Receive a purchase order, in full or in part",
            run=receive,
            input=MoveIn,
            from_states=OPEN,
            example={"date": "2026-11-05", "lines": [{"line": 1, "quantity": 1}]},
            description="Brings the units in at the order's price (debit inventory, credit "
            "goods received not billed); by default everything left.",
        ),
        Action(
            "bill",
            "Bill a purchase order's received units",
            run=bill,
            input=DocumentIn,
            output=DOCUMENTS,
            from_states=(*OPEN, "received", "cancelled"),
            status_code=201,
            example={"issued_at": InDays(0), "due_at": InDays(30)},
            description="A new numbered bill for received units not yet billed (by default all "
            "of them); more than was received is 409 over_bill (three-way matching).",
        ),
        Action(
            "cancel",
            "Cancel a purchase order (nothing more is received)",
            from_states=("draft", *OPEN),
            to="cancelled",
        ),
    ),
    present=FLOW.present,
    example={
        "contact_id": Ref("contacts", type="supplier"),
        "issued_at": "2026-11-02",
        "lines": [{"name": "Packaging", "quantity": 100, "price": 0.45}],
    },
)
