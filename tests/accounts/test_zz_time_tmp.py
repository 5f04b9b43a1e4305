import time
from tenants.services import municipality_provision
from tests.conftest import ADMIN_PASSWORD

def test_time(cities, db):
    times = []
    for slug, code in [("chofu", "132080"), ("koganei", "132101"), ("kodaira", "132110"), ("hino", "132128")]:
        t = time.perf_counter()
        municipality_provision(actor=None, slug=slug, name="x市", code=code, domain=f"{slug}.localhost", admin_username="admin", admin_password=ADMIN_PASSWORD)
        times.append(round(time.perf_counter() - t, 2))
    print("PROVISION", times)
