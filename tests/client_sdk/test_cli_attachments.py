"""fieldsync-client with attachment bytes: attach a file, see the backlog, sign off with a
signature image, download on another device."""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.client_sdk.test_cli import ok, run, sign_in  # noqa: F401 (fixtures)


def test_a_technician_attaches_a_photo_and_signs_off_and_the_office_downloads_both(
        run, sign_in, world, tmp_path):  # noqa: F811
    sign_in("tech_a")
    sign_in("office")
    tech, wo = {"user": "tech_a"}, world.ids["wo_a"]
    photo, signature = tmp_path / "after.jpg", tmp_path / "signature.png"
    photo.write_bytes(b"\xff\xd8 a photo " * 30_000)
    with io.BytesIO() as out:
        Image.new("LA", (200, 80), (0, 0)).save(out, "PNG")
        signature.write_bytes(out.getvalue())
    attached = ok(run("workorder", "attach", wo, str(photo), "--json", **tech))
    photo_id = json.loads(attached.stdout)["id"]
    assert "Uploads:          1 file(s), 0.0 of 0.3 MB sent" in ok(run("status", **tech)).stdout
    ok(run("workorder", "start", wo, **tech))  # the workflow: dispatched, in progress, done
    done = ok(run("workorder", "complete", wo, "--resolution", "Descaled", "--signed-by",
                  "Ana Nord", "--signature", str(signature), "--json", **tech))
    signature_id = json.loads(done.stdout)["signature_id"]
    ok(run("sync", **tech))
    assert "Uploads:          none waiting" in ok(run("status", **tech)).stdout
    ok(run("sync", user="office"))
    for attachment_id, original in ((photo_id, photo), (signature_id, signature)):
        copy = tmp_path / f"copy-{original.name}"
        ok(run("workorder", "download", attachment_id, "--to", str(copy), user="office"))
        assert copy.read_bytes() == original.read_bytes()
