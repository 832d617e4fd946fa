"""An id a failure names, found where another object named it: from ASP.NET Core's real console log lines."""

from __future__ import annotations

from kubetrainer.answer.compose import compose
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.collect import Collector, ids_in

from .cluster import container, log, pod

KEY = "fe8b7972-2c11-426c-8cd4-cf06adfdc3e4"
# .NET's console logger: a `level: Category[event id]` header, then the message indented on the next line.
CREATED = [
    "2026-03-13T11:22:01.601Z info: Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager[58]",
    f"      Creating key {{{KEY}}} with creation date 2026-03-13 11:22:01Z, activation date 2026-03-13 11:22:01Z, "
    "and expiration date 2026-06-11 11:22:01Z.",
]
NOT_FOUND = [
    "2026-03-14T09:16:13.124Z fail: Microsoft.AspNetCore.Antiforgery.DefaultAntiforgery[7]",
    "      An exception was thrown while deserializing the token.",
    "      Microsoft.AspNetCore.Antiforgery.AntiforgeryValidationException: The antiforgery token could not be decrypted.",
    f"       ---> System.Security.Cryptography.CryptographicException: The key {{{KEY}}} was not found in the key "
    "ring. For more information go to https://aka.ms/aspnet/dataprotectionwarning",
    "         at Microsoft.AspNetCore.DataProtection.KeyManagement.KeyRingBasedDataProtector.UnprotectCore()",
]
RUNNING = dict(containers=[container(ready=True)])


def _lines(name: str, lines: list[str]) -> list[dict]:
    return [log(name, line, "clinic", ts=f"2026-03-14T09:{index:02d}:00Z") for index, line in enumerate(lines)]


def test_a_failure_naming_an_id_quotes_the_other_pod_that_created_it():
    records = [pod("portal-7d9f-a1", "clinic", **RUNNING), *_lines("portal-7d9f-a1", CREATED),
               pod("portal-7d9f-b2", "clinic", **RUNNING), *_lines("portal-7d9f-b2", NOT_FOUND)]
    failing = next(finding for finding in diagnose(records) if finding.name == "portal-7d9f-b2")
    assert [item.name for item in failing.elsewhere] == ["portal-7d9f-a1"]
    assert f"Creating key {{{KEY}}}" in failing.elsewhere[0].text
    text = compose([failing], Sources([])).text
    assert "The same id or file elsewhere:" in text and f'clinic/portal-7d9f-a1: "Creating key {{{KEY}}}' in text


def test_an_opening_keeps_an_indented_message_body_but_not_the_frames_after_an_error():
    collector = Collector().add_all([pod("portal-7d9f-a1", "clinic", **RUNNING),
                                     *_lines("portal-7d9f-a1", [*CREATED, *NOT_FOUND])])
    kept = [item.text.strip() for item in collector.opening[("clinic", "portal-7d9f-a1", "app")]]
    assert kept[1].startswith("Creating key") and not any(line.startswith(("at ", "--->", "An exception")) for line in kept)


def test_ids_are_whole_uuids_and_a_pod_uid_is_not_traced():
    assert ids_in(f"key {{{KEY.upper()}}} and {KEY}0 and x{KEY}") == [KEY]
    uid = "0b7c1d9e-3f2a-4c5b-8d6e-7f8091a2b3c4"
    records = [pod("portal-7d9f-a1", "clinic", uid=uid, **RUNNING),
               log("portal-7d9f-a1", f"info: volume of /var/lib/kubelet/pods/{uid}/volumes ready", "clinic"),
               pod("portal-7d9f-b2", "clinic", **RUNNING),
               log("portal-7d9f-b2", f"ERROR The key {{{uid}}} was not found in the key ring", "clinic")]
    failing = next(finding for finding in diagnose(records) if finding.name == "portal-7d9f-b2")
    assert failing.elsewhere == []
