"""IP addresses in evidence lines resolved to the pods and Services holding them, from real proxy and client lines."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.match import rank_findings
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.addresses import IPV4
from kubetrainer.sources.kube import object_record

from .cluster import container, log, pod

# ingress-nginx's error log line when the upstream's response headers exceed proxy_buffer_size.
NGINX_BIG_HEADER = (
    '2026/03/14 09:08:34 [error] 812#812: *2252604 upstream sent too big header while reading response header from '
    'upstream, client: 10.0.0.60, server: login.example.com, request: "GET /oauth2/callback?code=4 HTTP/2.0", '
    'upstream: "http://10.244.3.245:8080/oauth2/callback?code=4", host: "login.example.com"')
# A Go client's dial error against a Service's ClusterIP.
DIAL_REFUSED = 'level=error msg="query failed" err="dial tcp 10.96.12.7:5432: connect: connection refused"'
RUNNING = dict(containers=[container(ready=True)])


def _service(name: str, namespace: str, ip: str) -> dict:
    return object_record({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                          "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [{"port": 5432}]}}, "dump")


def _records() -> list[dict]:
    return [
        pod("ingress-nginx-controller-7d9f-x2lq4", "ingress-nginx", ip="10.244.1.17", **RUNNING),
        log("ingress-nginx-controller-7d9f-x2lq4", NGINX_BIG_HEADER, "ingress-nginx", "controller"),
        pod("sso-portal-4lrp4ql6d7-hxk6j", "accounts", ip="10.244.3.245", **RUNNING),
        pod("billing-api-5c8d-q7w2e", "billing", ip="10.244.2.9", **RUNNING),
        log("billing-api-5c8d-q7w2e", DIAL_REFUSED, "billing"),
        _service("ledger-db", "ledger", "10.96.12.7"),
    ]


def test_an_upstream_named_by_ip_is_resolved_to_its_pod_and_a_dialled_cluster_ip_to_its_service():
    found = diagnose(_records())
    nginx = next(finding for finding in found if finding.rule == "nginx-big-header")
    assert nginx.addressed == ["accounts/sso-portal-4lrp4ql6d7-hxk6j"]  # the client 10.0.0.60 is no pod: not named
    assert nginx.evidence[0].about == "10.244.3.245 is pod accounts/sso-portal-4lrp4ql6d7-hxk6j"
    refused = next(finding for finding in found if finding.name == "billing-api-5c8d-q7w2e")
    assert refused.addressed == ["ledger/ledger-db"]
    assert "10.96.12.7 is Service ledger/ledger-db" in refused.evidence[0].about


def test_the_answer_says_whose_address_it_is_and_a_question_naming_the_app_finds_the_proxys_finding():
    found = diagnose(_records())
    nginx = next(finding for finding in found if finding.rule == "nginx-big-header")
    text = compose([nginx], Sources([])).text
    assert "(10.244.3.245 is pod accounts/sso-portal-4lrp4ql6d7-hxk6j)" in text
    ranked = rank_findings("Why do people get a 502 from the sso portal after they log in?", [], found)
    assert ranked[0].finding is nginx and ranked[0].name > 0


def test_a_service_dns_name_adds_the_service_without_restating_it():
    line = ('{"level": "error", "msg": "risk score unavailable", "status": 503, '
            '"upstream": "http://risk-scorer.underwriting.svc.cluster.local:8000/v1/score"}')
    found = diagnose([pod("quote-api-6d5f-z9x8k", "underwriting", ip="10.244.1.5", **RUNNING),
                      log("quote-api-6d5f-z9x8k", line, "underwriting"), _service("risk-scorer", "underwriting", "10.96.3.3")])
    client = next(finding for finding in found if finding.name == "quote-api-6d5f-z9x8k")
    assert client.addressed == ["underwriting/risk-scorer"] and client.evidence[0].about is None


def test_an_ip_is_only_a_whole_dotted_quad():
    assert IPV4.findall("upstream: \"http://10.244.3.245:8080/x\", version 1.2.3.4.5, at 10.0.0.1.") == [
        "10.244.3.245", "10.0.0.1"]


def test_a_status_line_quoted_as_evidence_does_not_name_its_own_pod_by_its_address():
    from kubetrainer.diagnose.addresses import name_addresses
    from kubetrainer.diagnose.collect import Collector
    from kubetrainer.diagnose.finding import Evidence, Finding

    records = _records()
    collector = Collector().add_all(records)
    status = next(facts.status for facts in collector.objects.values() if facts.name == "sso-portal-4lrp4ql6d7-hxk6j")
    finding = Finding("replicas-short", "warning", "Deployment", "accounts", "sso-portal", "1/2 ready", "m", "f", ("ready",),
                      [status, Evidence("dialled 10.244.2.9:80", "log", "accounts", "sso-portal")])
    name_addresses([finding], collector.objects)
    assert finding.evidence[0].about is None and finding.addressed == ["billing/billing-api-5c8d-q7w2e"]


def test_a_client_refused_by_a_service_is_explained_by_the_crash_of_the_pods_behind_it():
    from kubetrainer.answer.compose import order

    refused = ('{"level": "error", "msg": "copilot upstream failed", "upstream": '
               '"http://support-copilot.assistant.svc.cluster.local:8000/v1/chat", '
               '"error": "dial tcp 10.96.4.4:8000: connect: connection refused"}')
    crashing = [container("vllm", waiting=("CrashLoopBackOff", "back-off 5m0s"), last=("Error", 1), restarts=19)]
    found = diagnose([
        pod("copilot-gateway-6d5f8c7b9d-z9x8k", "assistant", ip="10.244.1.5", **RUNNING),
        log("copilot-gateway-6d5f8c7b9d-z9x8k", refused, "assistant"),
        _service("support-copilot", "assistant", "10.96.4.4"),
        pod("support-copilot-7d9f8c6b5d-x2lqp", "assistant", containers=crashing),
        pod("support-copilot-web-5cngn46ltt-q8wnm", "assistant", containers=crashing),  # another workload's name
    ])
    client = next(finding for finding in found if finding.rule == "connection-refused")
    servers = {finding.name: finding for finding in found if finding.rule == "crash-loop"}
    assert client.addressed == ["assistant/support-copilot"]
    assert servers["support-copilot-7d9f8c6b5d-x2lqp"].id in client.related
    assert servers["support-copilot-web-5cngn46ltt-q8wnm"].id not in client.related
    assert order([client], found)[0] is servers["support-copilot-7d9f8c6b5d-x2lqp"], "the server's crash leads"


def test_a_client_refused_on_a_port_the_server_does_not_listen_on_names_both_ports():
    # The app moved to port 8000; the Service still sends 80 to 8080.
    refused = ('level=error msg="quote failed" err="Post \\"http://pricing.shop.svc.cluster.local:80/v1/price\\": '
               'dial tcp 10.96.7.7:80: connect: connection refused"')
    service = object_record({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pricing", "namespace": "shop"},
                             "spec": {"type": "ClusterIP", "clusterIP": "10.96.7.7",
                                      "ports": [{"port": 80, "targetPort": 8080}]}}, "dump")
    assert "ports 80->8080/TCP" in service["message"]
    found = diagnose([pod("checkout-6d5f8c7b9d-z9x8k", "shop", ip="10.244.1.5", **RUNNING),
                      *(log("checkout-6d5f8c7b9d-z9x8k", refused, "shop") for _ in range(3)), service,
                      pod("pricing-7d9f8c6b5d-x2lqp", "shop", ip="10.244.2.9", **RUNNING),
                      log("pricing-7d9f8c6b5d-x2lqp", "INFO:     Uvicorn running on http://0.0.0.0:8000", "shop")])
    client = next(finding for finding in found if finding.rule == "connection-refused")
    assert ("Service shop/pricing sends port 80 to 8080, but pod shop/pricing-7d9f8c6b5d-x2lqp behind it listens on "
            "port 8000") in client.cause
    assert "port 8000" in client.fix
    right = diagnose([pod("pricing-7d9f8c6b5d-x2lqp", "shop", ip="10.244.2.9", **RUNNING),
                      log("pricing-7d9f8c6b5d-x2lqp", "INFO:     Uvicorn running on http://0.0.0.0:8080", "shop"),
                      pod("checkout-6d5f8c7b9d-z9x8k", "shop", ip="10.244.1.5", **RUNNING), service,
                      *(log("checkout-6d5f8c7b9d-z9x8k", refused, "shop") for _ in range(3))])
    assert "listens on port" not in next(f for f in right if f.rule == "connection-refused").cause


def test_a_proxy_refused_by_a_pod_ip_on_the_wrong_port_names_the_port_it_listens_on():
    upstream = ('2026/03/14 09:08:34 [error] 812#812: *2252604 connect() failed (111: Connection refused) while '
                'connecting to upstream, client: 10.0.0.60, server: shop.example.com, request: "GET / HTTP/2.0", '
                'upstream: "http://10.244.2.9:8080/", host: "shop.example.com"')
    found = diagnose([pod("ingress-nginx-controller-7d9f-x2lq4", "ingress-nginx", ip="10.244.1.17", **RUNNING),
                      *(log("ingress-nginx-controller-7d9f-x2lq4", upstream, "ingress-nginx") for _ in range(3)),
                      pod("storefront-7d9f8c6b5d-x2lqp", "shop", ip="10.244.2.9", **RUNNING),
                      log("storefront-7d9f8c6b5d-x2lqp", "Listening on 0.0.0.0:3000", "shop")])
    proxy = next(finding for finding in found if finding.rule == "connection-refused")
    assert "it dials port 8080, but pod shop/storefront-7d9f8c6b5d-x2lqp behind it listens on port 3000" in proxy.cause


def _selecting(name: str, namespace: str, selector: dict) -> dict:
    return object_record({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                          "spec": {"type": "ClusterIP", "clusterIP": "10.96.7.7", "ports": [{"port": 80}],
                                   "selector": selector}}, "dump")


def test_a_service_selecting_no_pod_names_the_label_that_moved_and_explains_its_clients():
    refused = 'level=error msg="quote failed" err="dial tcp 10.96.7.7:80: connect: connection refused"'
    service = _selecting("pricing", "shop", {"app": "pricing", "tier": "api"})
    assert service["message"].endswith("; selector app=pricing,tier=api.")
    relabelled = dict(labels={"app": "pricing-v2", "tier": "api", "pod-template-hash": "7d9f8c6b5d"}, **RUNNING)
    found = diagnose([service, pod("pricing-7d9f8c6b5d-x2lqp", "shop", **relabelled),
                      pod("checkout-6d5f8c7b9d-z9x8k", "shop", labels={"app": "checkout"}, **RUNNING),
                      *(log("checkout-6d5f8c7b9d-z9x8k", refused, "shop") for _ in range(3))])
    empty = next(finding for finding in found if finding.rule == "service-selects-nothing")
    assert empty.severity == "warning"
    assert empty.cause == ("Service pricing selects app=pricing,tier=api, which no pod in shop has, so it has no "
                           "endpoints; pod pricing-7d9f8c6b5d-x2lqp has app=pricing-v2")
    client = next(finding for finding in found if finding.rule == "connection-refused")
    assert empty.id in client.related
    from kubetrainer.answer.compose import order
    assert order([client], found)[0] is empty, "the Service without endpoints leads"


def test_a_service_whose_pods_match_or_whose_namespace_the_records_lack_is_not_a_finding():
    matching = diagnose([_selecting("pricing", "shop", {"app": "pricing"}),
                         pod("pricing-7d9f8c6b5d-x2lqp", "shop", labels={"app": "pricing"}, **RUNNING)])
    assert not [finding for finding in matching if finding.rule == "service-selects-nothing"]
    assert not diagnose([_selecting("pricing", "shop", {"app": "pricing"})]), "no pods of shop in the records"
    scaled = diagnose([_selecting("pricing", "shop", {"app": "pricing"}),
                       pod("checkout-6d5f8c7b9d-z9x8k", "shop", labels={"app": "checkout"}, **RUNNING)])
    assert [finding.severity for finding in scaled if finding.rule == "service-selects-nothing"] == ["info"]


def test_ingress_nginx_naming_a_service_without_endpoints_is_explained_by_its_selector():
    line = 'W0314 09:12:01.123456       7 controller.go:1214] Service "shop/pricing" does not have any active Endpoint.'
    found = diagnose([_selecting("pricing", "shop", {"app": "pricing"}),
                      pod("pricing-7d9f8c6b5d-x2lqp", "shop", labels={"app": "pricing-v2"}, **RUNNING),
                      pod("ingress-nginx-controller-7d9f-x2lq4", "ingress-nginx", **RUNNING),
                      *(log("ingress-nginx-controller-7d9f-x2lq4", line, "ingress-nginx") for _ in range(3))])
    ingress = next(finding for finding in found if finding.rule == "service-no-endpoints")
    assert ingress.addressed == ["shop/pricing"]
    from kubetrainer.answer.compose import order
    assert order([ingress], found)[0].rule == "service-selects-nothing"
