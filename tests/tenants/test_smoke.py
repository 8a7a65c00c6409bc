from tests.conftest import client_for


def test_workspace_dashboard_needs_sign_in(tenant_a):
    response = client_for(tenant_a).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_owner_sees_dashboard(owner_client_a, tenant_a):
    response = owner_client_a.get("/")
    assert response.status_code == 200
    assert tenant_a.name.encode() in response.content
