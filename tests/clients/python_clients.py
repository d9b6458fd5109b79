"""Real public Python clients against roster's emulator: simple-salesforce and msgraph-sdk.

Usage: python tests/clients/python_clients.py path/to/roster
Starts `roster emulate --synthetic 25000` (2,501 Salesforce users: more than one query page),
runs each check, and prints `N passed, N failed`; exits 1 on any failure.
"""

import asyncio
import subprocess
import sys
import traceback

import httpx
import requests
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory
from simple_salesforce import Salesforce, SalesforceMalformedRequest

TENANT = "11111111-2222-4333-8444-555555555555"
ENTRA_CLIENT = "22222222-3333-4444-8555-666666666666"
SF_CLIENT = "3MVG9synthetic.roster"


def start(roster):
    proc = subprocess.Popen(
        [roster, "emulate", "--synthetic", "25000", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    env = {}
    while len(env) < 5:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("emulator exited early")
        name, value = line.strip().removeprefix("export ").split("=", 1)
        env[name] = value.strip("'")
    return proc, env


class HttpsToHttp(requests.adapters.HTTPAdapter):
    """simple-salesforce always builds https:// URLs; the emulator speaks http on loopback."""

    def send(self, request, **kw):
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, **kw)


def salesforce(env):
    base = env["ROSTER_SALESFORCE_LOGIN_URL"]
    token = requests.post(
        f"{base}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": SF_CLIENT, "client_secret": env["SF_CLIENT_SECRET"]},
    ).json()["access_token"]
    session = requests.Session()
    session.mount(base.replace("http://", "https://"), HttpsToHttp())
    return Salesforce(instance_url=base, session_id=token, session=session, version="59.0")


def check_query_all_pages(env):
    sf = salesforce(env)
    result = sf.query_all("SELECT Id, Username FROM User")
    # every tenth of 25,000 users, and the integration user
    assert result["totalSize"] == 2501, result["totalSize"]
    assert len(result["records"]) == 2501
    assert len({r["Id"] for r in result["records"]}) == 2501


def check_create_update_and_errors(env):
    sf = salesforce(env)
    profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]
    user = {
        "Username": "py.client@synthetic.example.dev1", "LastName": "Client", "Email": "py@example.com",
        "Alias": "pyc", "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": profile,
    }
    created = sf.User.create(user)
    assert created["success"] and len(created["id"]) == 18, created
    assert sf.User.update(created["id"], {"Title": "Tester"}) == 204
    assert sf.User.get(created["id"])["Title"] == "Tester"
    try:
        sf.User.create(user)
        raise AssertionError("duplicate username accepted")
    except SalesforceMalformedRequest as e:
        assert e.content[0]["errorCode"] == "DUPLICATE_USERNAME", e.content
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [
            dict(user, attributes={"type": "User"}, Username="py.c1@synthetic.example.dev1", Alias="pyc1"),
            dict(user, attributes={"type": "User"}),
        ]},
    )
    assert results[0]["success"] is True, results
    assert results[1]["errors"][0]["statusCode"] == "DUPLICATE_USERNAME", results
    # The org refuses what a real one refuses: a value outside a restricted picklist, and an
    # email address that is none.
    for field, value, code in [
        ("TimeZoneSidKey", "Pacific Standard Time", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ("Email", "not-an-address", "INVALID_EMAIL_ADDRESS"),
    ]:
        try:
            sf.User.create(dict(user, Username="py.bad@synthetic.example.dev1", Alias="pyb", **{field: value}))
            raise AssertionError(f"{field} {value!r} accepted")
        except SalesforceMalformedRequest as e:
            assert e.content[0]["errorCode"] == code, e.content
            assert e.content[0]["fields"] == [field], e.content
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 1_000_000


def check_bulk2_insert(env):
    sf = salesforce(env)
    profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]
    base = {
        "LastName": "Bulk", "Email": "bulk@example.com", "TimeZoneSidKey": "America/Los_Angeles",
        "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
        "ProfileId": profile,
    }
    records = [dict(base, Username=f"bulk{i}@synthetic.example.dev1", Alias=f"bulk{i}") for i in range(3)]
    records.append(dict(base, Username="bulk0@synthetic.example.dev1", Alias="dup"))  # a duplicate
    results = sf.bulk2.User.insert(records=records)
    assert results[0]["numberRecordsProcessed"] == 4, results
    assert results[0]["numberRecordsFailed"] == 1, results
    failed = sf.bulk2.User.get_failed_records(results[0]["job_id"])
    assert "DUPLICATE_USERNAME" in failed, failed
    found = sf.query("SELECT Id FROM User WHERE Username LIKE 'bulk%'")
    assert found["totalSize"] == 3, found


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context={}):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


def graph(env):
    base = env["ROSTER_GRAPH_URL"]
    token = requests.post(
        f"{env['ROSTER_ENTRA_LOGIN_URL']}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": ENTRA_CLIENT,
              "client_secret": env["AZURE_CLIENT_SECRET"], "scope": "https://graph.microsoft.com/.default"},
    ).json()["access_token"]
    url = f"{base}/v1.0"
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(base_url=url))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)), client=http)
    adapter.base_url = url
    return GraphServiceClient(request_adapter=adapter)


async def check_graph(env):
    client = graph(env)
    sps = await client.service_principals.get()
    sp = next(s for s in sps.value if s.display_name == "Salesforce Sandbox")
    assert {r.value for r in sp.app_roles} == {"Sales_Manager", "Sales_Rep", "Support_Agent"}
    # appRoleAssignedTo, two to a page, following nextLinks.
    builder = client.service_principals.by_service_principal_id(sp.id).app_role_assigned_to
    config = builder.AppRoleAssignedToRequestBuilderGetRequestConfiguration(
        query_parameters=builder.AppRoleAssignedToRequestBuilderGetQueryParameters(top=2)
    )
    page = await builder.get(request_configuration=config)
    assignments = list(page.value)
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        assignments.extend(page.value)
    assert len(assignments) == 4, len(assignments)
    group = assignments[0].principal_id
    members = await client.groups.by_group_id(str(group)).members.graph_user.get()
    assert len(members.value) == 100, len(members.value)  # Graph's default page
    assert all(m.odata_type == "#microsoft.graph.user" for m in members.value)
    # Users with $select: only the selected properties come back.
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=["id", "department"], top=999)
    users = await client.users.get(
        request_configuration=UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(query_parameters=query)
    )
    assert len(users.value) == 999
    assert users.value[0].department and users.value[0].display_name is None
    assert not users.value[0].additional_data, users.value[0].additional_data
    # A property users do not have is refused, as Graph does, not answered with null.
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=["id", "jobTitel"])
    try:
        await client.users.get(
            request_configuration=UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(query_parameters=query)
        )
    except ODataError as e:
        assert e.response_status_code == 400, e.response_status_code
        assert e.error.code == "Request_BadRequest", e.error.code
        assert "Could not find a property named 'jobTitel'" in e.error.message, e.error.message
    else:
        raise AssertionError("$select=jobTitel was answered")


def main():
    proc, env = start(sys.argv[1])
    checks = [check_query_all_pages, check_create_update_and_errors, check_bulk2_insert, check_graph]
    passed = failed = 0
    try:
        for check in checks:
            try:
                result = check(env)
                if asyncio.iscoroutine(result):
                    asyncio.run(result)
                print(f"ok   {check.__name__}")
                passed += 1
            except Exception:
                print(f"FAIL {check.__name__}")
                traceback.print_exc()
                failed += 1
    finally:
        proc.terminate()
        proc.wait()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
