"""The HTTP API over a real server: crops added with their metadata are found again with it,
filters are applied, images come back by id only, and every bad request is a one-line 4xx."""
from __future__ import annotations

import http.client
import itertools
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

BASE_TIME = 1714550400  # 2024-05-01T08:00:00Z, the first crop's capture time (conftest's metadata)


def camera_of(path) -> str:
    return path.name.split("_")[1]


def test_a_crop_added_is_found_first_with_its_metadata_and_image(city, crops):
    query = crops[7]
    hits = city.hits(query, k=5)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    first = hits[0]
    assert first["id"] == 7 and first["distance"] == pytest.approx(0, abs=1e-5)
    assert (first["camera"], first["track"], first["name"]) == (camera_of(query), query.name[:4], query.name)
    assert first["time"] == "2024-05-01T08:07:00Z" and first["fields"] == {"file": query.name}
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    image = city.request("GET", first["image"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == query.read_bytes()


def test_filters_keep_only_the_cameras_and_the_time_window_asked_for(city, crops):
    cameras = sorted({camera_of(p) for p in crops})[:2]
    hits = city.hits(crops[0], k=50, cameras=",".join(cameras))
    expected = [i for i, p in enumerate(crops) if camera_of(p) in cameras]
    assert sorted(h["id"] for h in hits) == expected
    window = city.hits(crops[0], k=50, after="2024-05-01T08:03:00Z", before=BASE_TIME + 6 * 60)
    assert sorted(h["id"] for h in window) == [3, 4, 5, 6]
    both = city.hits(crops[0], k=50, cameras=cameras[0], after=BASE_TIME + 10 * 60)
    assert sorted(h["id"] for h in both) == [i for i in expected if i >= 10 and camera_of(crops[i]) == cameras[0]]


def test_searches_arriving_together_are_batched_and_answered_as_one_at_a_time(city, crops):
    alone = [city.hits(p, k=3) for p in crops[:12]]
    before = city.health()["batching"]
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda p: city.hits(p, k=3), crops[:12]))
    after = city.health()["batching"]
    assert after["searches"] - before["searches"] == 12
    assert after["batches"] - before["batches"] < 12  # some were embedded and searched together
    assert [[h["id"] for h in hits] for hits in together] == [[h["id"] for h in hits] for hits in alone]
    for hits, single in zip(together, alone):
        assert [h["distance"] for h in hits] == pytest.approx([h["distance"] for h in single], abs=1e-5)


def test_32_clients_of_50_searches_get_no_error_and_keep_memory_flat(city, crops):
    def client(offset: int, searches: int) -> list[int]:
        return [city.search(crops[(offset + i) % len(crops)], k=10).status_code for i in range(searches)]

    rss = []
    for searches in (25, 25):  # each of 32 clients searches 50 times, in two halves
        with ThreadPoolExecutor(32) as pool:
            codes = pool.map(client, range(32), [searches] * 32)
            assert {code for batch in codes for code in batch} == {200}
        rss.append(city.rss_kib())
    assert rss[1] - rss[0] < 20 * 1024  # KiB: the second 800 searches grow nothing much after the first 800


def test_the_server_listens_on_this_machine_only_by_default(city):
    assert city.url.startswith("http://127.0.0.1:")


def _png_bomb(side: int) -> bytes:
    """A 45-byte PNG whose header claims side x side RGB pixels and that holds none."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


BAD_SEARCHES = [  # (fields, image bytes or None for a crop, status, what the error says)
    ({"k": 0}, None, 400, "k must be from 1 to 100 (the server's --max-k), got 0"),
    ({"k": 101}, None, 400, "k must be from 1 to 100"),
    ({"k": "ten"}, None, 400, "k must be a whole number from 1 to 100, got 'ten'"),
    ({"cameras": "c99"}, None, 400, "unknown camera 'c99': the gallery's cameras are c01, "),
    ({"after": "yesterday"}, None, 400, "after: expected seconds since the epoch or ISO 8601"),
    ({"after": BASE_TIME + 60, "before": BASE_TIME}, None, 400, "after (2024-05-01T08:01:00Z) is later than before"),
    ({"domain": "dusk"}, None, 400, "this model takes no per-image label, got 'dusk'"),
    ({}, b"#!/bin/sh\necho not an image\n", 400, "upload 'query.jpg' is not an image: no format PIL reads"),
    ({}, b"", 400, "upload 'query.jpg' is empty"),
    ({}, "truncated", 400, "upload 'query.jpg' cannot be decoded"),
    ({}, _png_bomb(30_000), 413, "upload 'query.jpg' claims 900000000 pixels, over PIL's limit of"),
    ({}, _png_bomb(6_000), 413, "claims 6000x6000 = 36000000 pixels, over the limit of 25000000 (--max-pixels)"),
]


@pytest.mark.parametrize("fields, image, status, message", BAD_SEARCHES,
                         ids=[f"{s}-{m[:30]}" for _, _, s, m in BAD_SEARCHES])
def test_a_bad_search_is_a_one_line_4xx_saying_what_is_wrong(city, crops, fields, image, status, message):
    data = crops[0].read_bytes()[:400] if image == "truncated" else crops[0].read_bytes() if image is None else image
    response = city.search(data, "query.jpg", **fields)
    assert_refused(response, status, message)


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.text.count("\n") == 0 and "Traceback" not in response.text
    assert list(response.json()) == ["error"] and message in response.json()["error"], response.text


def test_bad_adds_and_bad_routes_are_one_line_4xx(city, crops):
    two = crops[:2]
    assert_refused(city.add(two, [{"camera": "c01"}]), 400, "metadata must be one JSON object per image (2)")
    assert_refused(city.add(two, [{"camera": "c01", "plate": "AB-123"}] * 2), 400,
                   "metadata[0]: unknown key 'plate'; use camera, time, track, fields")
    assert_refused(city.add(two, [{"fields": {"a": [1]}}] * 2), 400, "metadata[0].fields: expected an object")
    assert_refused(city.add(two, [{"time": "noon"}] * 2), 400, "metadata[0].time: expected seconds")
    response = city.request("POST", "/v1/gallery", files={"images": ("a.jpg", b"")}, data={"metadata": "{"})
    assert_refused(response, 400, "metadata is not JSON")
    assert_refused(city.request("POST", "/v1/gallery", data={"metadata": "[]"}), 400, "send multipart/form-data")
    assert_refused(city.add([crops[0]] * 65), 413, "more than 64 images in one request (--max-images); send them")
    assert_refused(city.request("POST", "/v1/search", files={"other": ("a.jpg", b"x")}), 400,
                   "send one query image as the file field 'image', got 0")
    assert_refused(city.request("POST", "/v1/search", files={"image": ("a.jpg", crops[0].read_bytes()),
                                                            "k": ("k.txt", b"5")}), 400,
                   "'k' must be a text field, not a file")
    assert_refused(city.request("GET", "/v1/gallery/100000/image"), 404, "no row 100000 in the gallery")
    assert_refused(city.request("GET", "/v1/gallery/../../etc/passwd"), 404, "not found")
    assert_refused(city.request("GET", "/v1/gallery/-1/image"), 404, "not found: /v1/gallery/-1/image")
    assert_refused(city.request("GET", "/v1/search"), 405, "GET is not allowed on /v1/search")
    assert city.health()["gallery"]["rows"] >= len(crops)  # nothing of the refused adds went in


def test_a_body_over_the_limit_is_refused_before_it_is_read(city):
    """The server runs with --max-body-mb 4: a request announcing 5 MiB gets 413 at once (its
    body is never sent); one that streams more without announcing it is cut off at the limit."""
    host, port = city.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/search")
    conn.putheader("Content-Type", "multipart/form-data; boundary=b")
    conn.putheader("Content-Length", str(5 << 20))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"error": "request body of 5242880 bytes, over the limit of 4194304 "
                                                    "(--max-body-mb); send fewer or smaller images"}
    conn.close()
    head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
    chunks = itertools.chain([head], (b"x" * 65536 for _ in range(80)))  # 5 MiB, no length: sent chunked
    response = city.request("POST", "/v1/search", data=chunks,
                            headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_refused(response, 413, "request body of more than 4194304 bytes")
