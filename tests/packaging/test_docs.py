"""docs/operations.md's YAML examples are real configuration: together, as conf.d files on top of
the configuration the package ships, they pass `fieldlinkd --check-config` (key and CA paths
pointed at files this test makes)."""

import os
import re
import shutil
import tempfile
import unittest

from package import SOURCE_DIR, run

FIELDLINKD = os.environ["FIELDLINKD"]


class OperationsGuideTest(unittest.TestCase):
    def test_yaml_examples_validate_on_the_shipped_configuration(self):
        with open(os.path.join(SOURCE_DIR, "docs", "operations.md")) as f:
            blocks = re.findall(r"```yaml\n(.*?)```", f.read(), re.S)
        self.assertGreaterEqual(len(blocks), 3, "the Modbus, hub and IoT Edge examples")
        folder = tempfile.mkdtemp(prefix="fieldlink-docs-")
        try:
            os.makedirs(os.path.join(folder, "conf.d"))
            os.makedirs(os.path.join(folder, "keys"))
            shutil.copy(os.path.join(SOURCE_DIR, "packaging", "fieldlink.yaml"), folder)
            files = {}
            for i, block in enumerate(blocks):
                for path in re.findall(r"(/etc/fieldlink/\S+\.(?:key|pem))", block):
                    files[path] = os.path.join(folder, "keys", os.path.basename(path))
                    block = block.replace(path, files[path])
                with open(os.path.join(folder, "conf.d", f"{20 + i}-example.yaml"), "w") as f:
                    f.write(block)
            for made in files.values():
                with open(made, "w") as f:
                    f.write("c2VjcmV0LWtleS1mb3ItYS10ZXN0LW9ubHktMDAwMDA=\n")
                os.chmod(made, 0o600)
            result = run([FIELDLINKD, "--check-config", "--config",
                          os.path.join(folder, "fieldlink.yaml")])
            self.assertEqual((result.returncode, result.stdout), (0, "ok\n"), result.stderr)
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    unittest.main()
