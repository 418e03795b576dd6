"""Drives the live service with the client openapi-python-client generated from its
document (importable as `client`): a feasibility query and a check, then a reservation placed, read,
listed, confirmed and completed, and a second one cancelled. Every answer must parse into
the generated models; any mismatch between document and service fails here.

    python3 scripts/openapi_client_flow.py BASE_URL TOKEN     (PYTHONPATH holds `client`)
"""
import sys
import uuid

from client import AuthenticatedClient
from client.api.feasibility import check_coverage, check_feasibility
from client.api.inventory import get_box, import_inventory
from client.api.reservations import (
    cancel_reservation,
    complete_reservation,
    confirm_reservation,
    create_reservation,
    get_reservation,
    list_reservations,
)
from client.models import (
    CheckAnswer,
    CheckRequest,
    CustomerInput,
    ImportFile,
    ImportResponse,
    FeasibilityOut,
    FeasibilityRequest,
    Problem,
    Reservation,
    ReservationPage,
    ReservationRequest,
)
from client.models.box_detail import BoxDetail

base, token = sys.argv[1], sys.argv[2]
api = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
# The centre of the demo's first city (src/demo.rs).
LAT, LON = -23.5505, -46.6333


def expect(kind, answer, what):
    if not isinstance(answer, kind):
        sys.exit(f"{what}: expected {kind.__name__}, got {answer!r}")
    return answer


answer = expect(FeasibilityOut, check_feasibility.sync(client=api, body=FeasibilityRequest(lat=LAT, lon=LON)), "feasibility")
assert answer.feasible, answer
box_id = answer.candidates[0].box_id
print(f"feasible: {len(answer.candidates)} candidates, nearest {box_id} at {answer.candidates[0].distance_m:.1f} m")

# A bad request comes back as the documented problem.
bad = expect(Problem, check_feasibility.sync(client=api, body=FeasibilityRequest(lat=LAT, lon=LON, limit=0)), "limit 0")
assert bad.code == "validation_failed" and bad.errors[0].field == "limit", bad

# The sales-page check: a yes or no and the plans, nothing of the network.
checked = expect(CheckAnswer, check_coverage.sync(client=api, body=CheckRequest(lat=LAT, lon=LON)), "check")
assert isinstance(checked.feasible, bool) and isinstance(checked.plans, list), checked
print(f"check: feasible={checked.feasible} reason={checked.reason} plans={checked.plans}")
unknown = expect(Problem, check_coverage.sync(client=api, body=CheckRequest(lat=LAT, lon=LON, plan_id="no-such-plan")), "check unknown plan")
assert unknown.code == "not_found", unknown

def reserve():
    return expect(Reservation, create_reservation.sync(
        client=api,
        body=ReservationRequest(
            lat=LAT, lon=LON, address="Rua Exemplo 1, São Paulo",
            customer=CustomerInput(name="Cliente Teste", phone="+5511987654321", email="cliente@example.com"),
            box_id=box_id,
        ),
        idempotency_key=str(uuid.uuid4()),
    ), "create")

held = reserve()
assert held.status.value == "pending" and held.box_id == box_id, held
print(f"held {held.code} on {held.splitter_id} port {held.port}")
again = expect(Reservation, get_reservation.sync(held.code, client=api), "get by code")
assert again.id == held.id
page = expect(ReservationPage, list_reservations.sync(client=api, box_id=box_id, limit=10), "list")
assert any(r.id == held.id for r in page.items)
detail = expect(BoxDetail, get_box.sync(box_id, client=api), "box")
assert any(held.port in s.held_ports for s in detail.splitters if s.id == held.splitter_id), detail

confirmed = expect(Reservation, confirm_reservation.sync(held.id, client=api), "confirm")
assert confirmed.status.value == "confirmed" and confirmed.expires_at is None
installed = expect(Reservation, complete_reservation.sync(held.id, client=api), "complete")
assert installed.status.value == "installed"
other = reserve()
cancelled = expect(Reservation, cancel_reservation.sync(other.id, client=api), "cancel")
assert cancelled.status.value == "cancelled"
# A transition the status does not allow is the documented 409.
refused = expect(Problem, confirm_reservation.sync(other.id, client=api), "confirm a cancelled one")
assert refused.status == 409, refused
print("lifecycle: pending -> confirmed -> installed; pending -> cancelled; all answers parsed")

# An import through the client, and the box it added answers at once.
feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-43.2, -22.9]},
           "properties": {"kind": "box", "id": "CLIENT-1", "status": "deployed",
                          "splitters": [{"id": "CLIENT-1-S1", "kind": "attendance", "ports": 8, "used": 2}]}}
imported = expect(ImportResponse, import_inventory.sync(
    client=api, project="client-test",
    body=ImportFile.from_dict({"type": "FeatureCollection", "features": [feature]})), "import")
assert imported.boxes.added == 1 and imported.warnings == [], imported
near = expect(FeasibilityOut, check_feasibility.sync(client=api, body=FeasibilityRequest(lat=-22.9, lon=-43.2)), "feasibility after import")
assert near.feasible and near.candidates[0].box_id == "CLIENT-1", near
print("import: 1 box added and found by the next query")

# An integration and its key through the client, then the key asks for feasibility.
from client.api.integrations import create_integration, issue_key
from client.models import Integration, KeyView, NewIntegration, NewKey

partner = expect(Integration, create_integration.sync(client=api, body=NewIntegration.from_dict({
    "id": "client-partner", "name": "Client partner", "projects": ["*"], "modules": ["feasibility"],
    "contacts": {"alert": ["a@partner.example"], "emergency": ["+5511999990000"], "technical": ["t@partner.example"],
                 "operational": ["o@partner.example"], "operational_public": "s@partner.example"},
    "support_hours": [{"days": ["mon", "fri"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]})), "integration")
assert partner.status.value == "active", partner
issued = expect(KeyView, issue_key.sync("client-partner", client=api, body=NewKey(name="client", rate_limit_per_min=100)), "key")
assert issued.key.startswith("fsk_") and issued.prefix == issued.key[:12], issued
with_key = AuthenticatedClient(base_url=base, token=issued.key, raise_on_unexpected_status=True)
near = expect(FeasibilityOut, check_feasibility.sync(client=with_key, body=FeasibilityRequest(lat=LAT, lon=LON)), "feasibility with a key")
assert near.feasible, near
print("integration: created active, key issued and used")
