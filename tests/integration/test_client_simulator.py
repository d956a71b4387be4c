"""sn.Client against the real simulator on loopback: every endpoint and every fault, in both error styles."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import media_factory
import pytest

import seedance_nb as sn
from seedance_nb._retrying import RetryPolicy
from seedance_nb.simulator import Simulator

URL = "https://example.com/a.png"
REQ = sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL], duration=4, resolution="480p")
QUICK = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture(params=["status", "body"], ids=["errors-as-status", "errors-as-200"])
def sim(request: pytest.FixtureRequest, fake_key: str) -> Iterator[Simulator]:
    with Simulator(latency=0, api_key=fake_key, errors_as_200=request.param == "body", slow_delay=1.5,
                   retry_after=0) as simulator:
        yield simulator


def client_for(sim: Simulator, key: str, **kw: object) -> sn.Client:
    kw.setdefault("retry", QUICK)
    return sn.Client(api_key=key, base_url=sim.base_url, **kw)  # type: ignore[arg-type]


async def test_every_endpoint(sim: Simulator, fake_key: str, tmp_path: Path) -> None:
    image = media_factory.image(tmp_path / "me.png")
    async with client_for(sim, fake_key) as client:
        assert await client.balance() == 100000.0
        estimate = await client.estimate(REQ)
        assert estimate.estimated_credits == pytest.approx(2.9 * 4) and estimate.affordable
        models = await client.models()
        assert "bytedance/seedance2-0-mini-r2v" in str(models)
        file_url = await client.upload_file(image)
        assert httpx.get(file_url).content == image.read_bytes()
        asset_id = await client.upload_asset(file_url, name="me")
        asset = await client.wait_asset(asset_id, timeout=5)
        assert asset.is_active and asset.name == "me" and asset.created_at is not None
        req = REQ.replace(reference_images=[asset.uri, URL], prompt="[Image1] meets [Image2]", return_last_frame=True)
        task_id = await client.create_task(req)
        info = await client.task_info(task_id)
        assert info.status == "success" and info.simulated and info.credits == pytest.approx(11.6)
        assert info.video_url and info.video_url.endswith(".mp4") and info.last_frame_url.endswith(".png")  # type: ignore[union-attr]
        assert info.param["input"]["reference_images"][0] == asset.uri
        assert await client.balance() == pytest.approx(100000.0 - 11.6)
        with pytest.raises(sn.NotFoundError):
            await client.task_info("no-such-task")
    assert sim.stats()["tasks_created"] == 1


async def test_wrong_key_is_401(sim: Simulator, fake_key: str) -> None:
    async with client_for(sim, "ak_" + "Z" * 32) as client:
        with pytest.raises(sn.AuthenticationError) as caught:
            await client.balance()
    assert caught.value.code == 401 and fake_key not in str(caught.value)


async def test_server_side_validation_names_the_field(sim: Simulator, fake_key: str) -> None:
    body = REQ.to_payload()
    body["input"]["duration"] = 99
    async with client_for(sim, fake_key) as client:
        with pytest.raises(sn.RejectedError) as caught:
            await client.create_task(body)
        with pytest.raises(sn.RejectedError) as unreachable:
            await client.create_task(REQ.replace(reference_images=["https://cdn.invalid/a.png"]))
    assert "duration" in str(caught.value) and "download" in str(unreachable.value)
    assert sim.stats()["tasks_created"] == 0


CODES = {"401": sn.AuthenticationError, "402": sn.InsufficientCreditsError, "429": sn.RateLimitError,
         "451": sn.ModerationError, "455": sn.MaintenanceError, "500": sn.ServerError,
         "501": sn.GenerationFailedError, "505": sn.FeatureDisabledError}
RETRIED = {"429", "455", "500"}


@pytest.mark.parametrize("kind", sorted(CODES))
async def test_each_error_fault_on_create_is_raised_once(sim: Simulator, fake_key: str, kind: str) -> None:
    sim.script("createtask", [kind])
    async with client_for(sim, fake_key) as client:
        with pytest.raises(CODES[kind]) as caught:
            await client.create_task(REQ)
        assert caught.value.code == int(kind)
        assert await client.create_task(REQ)  # the next call is normal
    assert sim.stats()["tasks_created"] == 1


@pytest.mark.parametrize("kind", sorted(CODES))
async def test_each_error_fault_on_gets_is_retried_only_when_transient(sim: Simulator, fake_key: str,
                                                                       kind: str) -> None:
    sim.script("balance", [kind, kind])
    async with client_for(sim, fake_key) as client:
        if kind in RETRIED:
            assert await client.balance() == 100000.0
        else:
            with pytest.raises(CODES[kind]):
                await client.balance()


async def test_rate_limit_retry_after_reaches_the_client(fake_key: str) -> None:
    with Simulator(latency=0, api_key=fake_key, retry_after=2) as sim:
        sim.script("taskinfo", ["429"])
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        async with client_for(sim, fake_key, sleep=sleep) as client:
            task_id = await client.create_task(REQ)
            assert (await client.task_info(task_id)).status == "success"
    assert waits == [2.0]


@pytest.mark.parametrize("endpoint,call", [("taskinfo", "task_info"), ("balance", "balance"),
                                           ("estimate", "estimate"), ("asset", "asset_info")])
@pytest.mark.parametrize("kind", ["drop", "slow"])
async def test_drops_and_slow_answers_on_safe_calls_are_retried(sim: Simulator, fake_key: str, endpoint: str,
                                                                call: str, kind: str) -> None:
    async with client_for(sim, fake_key, timeout=0.5) as client:
        task_id = await client.create_task(REQ)
        asset_id = await client.upload_asset(URL)
        args = {"task_info": (task_id,), "balance": (), "estimate": (REQ,), "asset_info": (asset_id,)}[call]
        sim.script(endpoint, [kind])
        assert await getattr(client, call)(*args) is not None


@pytest.mark.parametrize("kind", ["drop", "slow", "lost"])
async def test_create_without_an_answer_is_unknown_and_exactly_one_task_exists(sim: Simulator, fake_key: str,
                                                                               kind: str) -> None:
    sim.script("createtask", [kind])
    async with client_for(sim, fake_key, timeout=0.5) as client:
        with pytest.raises(sn.SubmissionUnknownError):
            await client.create_task(REQ)
    if kind == "slow":
        await asyncio.sleep(1.6)  # the held-back answer is dropped by the client, the task exists meanwhile
    assert sim.stats()["tasks_created"] == (0 if kind == "drop" else 1)


async def test_upload_and_media_faults(sim: Simulator, fake_key: str, tmp_path: Path) -> None:
    image = media_factory.image(tmp_path / "me.png")
    sim.script("upload", ["500", "drop"])
    async with client_for(sim, fake_key, timeout=0.5) as client:
        url = await client.upload_file(image)
        assert url.startswith(sim.root_url)
        task_id = await client.create_task(REQ)
        info = await client.task_info(task_id)
        sim.script("media", ["drop"])
        with pytest.raises(httpx.HTTPError):
            await client.http.get(info.video_url)  # type: ignore[arg-type]
        assert (await client.http.get(info.video_url)).status_code == 200  # type: ignore[arg-type]


async def test_asset_review_failure(sim: Simulator, fake_key: str) -> None:
    async with client_for(sim, fake_key) as client:
        asset_id = await client.upload_asset("https://faces.invalid/me.jpg")
        with pytest.raises(sn.AssetFailedError):
            await client.wait_asset(asset_id, timeout=5)
        with pytest.raises(sn.RejectedError):
            await client.create_task(REQ.replace(reference_images=[f"asset://{asset_id}"]))


async def test_insufficient_balance_is_402_and_nothing_is_charged(fake_key: str) -> None:
    with Simulator(latency=0, api_key=fake_key, balance=5.0, errors_as_200=True) as sim:
        async with client_for(sim, fake_key) as client:
            assert not (await client.estimate(REQ)).affordable
            with pytest.raises(sn.InsufficientCreditsError):
                await client.create_task(REQ)
            assert await client.balance() == 5.0
        assert sim.stats()["tasks_created"] == 0
