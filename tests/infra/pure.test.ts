// The pure decisions behind the components: instance types, ingress rules, AMI query, volume size, cloud-init,
// the exact command lines Pulumi runs, the bundle hash and the output values.
import yaml from "js-yaml";
import { amiQuery, amiRootSizeGb } from "../../infra/ami";
import { bundleHash, localModelNames } from "../../infra/bundle";
import { hostCidr, ingressRules, isWorldCidr, parseCidr } from "../../infra/cidrs";
import {
  commandLine,
  deployArgv,
  SSH_WAIT_SCRIPT,
  stopArgv,
  stopCommandLine,
} from "../../infra/deploy-command";
import { isArmInstanceType, isGpuInstanceType, parseInstanceType } from "../../infra/instance-type";
import { apiBaseUrl, knownHostsLine, predictUrls, sshCommand } from "../../infra/outputs";
import { renderCloudConfig } from "../../infra/user-data";
import { autoRootVolumeGb } from "../../infra/volume";
import { renderServingFiles } from "../../serving";

describe("instance types", () => {
  test("sizes rank nano < … < large < xlarge < 2xlarge < metal", () => {
    const ranks = [
      "t3.nano",
      "t3.micro",
      "t3.small",
      "t3.medium",
      "t3.large",
      "m5.xlarge",
      "m5.2xlarge",
      "m5.metal",
    ].map((t) => parseInstanceType(t)?.sizeRank as number);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
    expect(new Set(ranks).size).toBe(ranks.length);
  });
  test("rejects names that are not instance types", () => {
    for (const bad of ["large", "t3", "t3.huge", "T3.large", "t3.large "])
      expect(parseInstanceType(bad)).toBeUndefined();
  });
  test("GPU families: NVIDIA g/p families only", () => {
    expect(["g4dn.xlarge", "g5.2xlarge", "g6.xlarge", "p3.2xlarge"].every(isGpuInstanceType)).toBe(true);
    expect(["t3.large", "g4ad.xlarge", "g5g.xlarge", "m5.large"].some(isGpuInstanceType)).toBe(false);
  });
  test("ARM families: Graviton and a1", () => {
    expect(["t4g.large", "m7g.large", "c6gn.large", "g5g.xlarge", "a1.large"].every(isArmInstanceType)).toBe(
      true,
    );
    expect(["t3.large", "g4dn.xlarge", "m5.large", "t3a.large"].some(isArmInstanceType)).toBe(false);
  });
});

describe("CIDRs and ingress", () => {
  test("parses IPv4/IPv6 blocks and spots the world", () => {
    expect(parseCidr("203.0.113.7/32")).toEqual({ address: "203.0.113.7", prefix: 32, version: 4 });
    expect(parseCidr("2001:db8::/64")?.version).toBe(6);
    for (const bad of ["203.0.113.7", "203.0.113.7/33", "::/129", "example.com/24", ""])
      expect(parseCidr(bad)).toBeUndefined();
    expect(isWorldCidr("0.0.0.0/0")).toBe(true);
    expect(isWorldCidr("::/0")).toBe(true);
    expect(isWorldCidr("0.0.0.0/1")).toBe(false);
    expect(hostCidr("198.51.100.7")).toBe("198.51.100.7/32");
    expect(hostCidr("2001:db8::1")).toBe("2001:db8::1/128");
  });

  test("SSH from admin CIDRs only; the API from admin + API CIDRs; v4 and v6 split", () => {
    expect(
      ingressRules({
        adminCidrs: ["198.51.100.7/32", "2001:db8::/64"],
        apiCidrs: ["0.0.0.0/0", "198.51.100.7/32"],
        sshPort: 22,
        apiPort: 8501,
      }),
    ).toEqual([
      {
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        cidrBlocks: ["198.51.100.7/32"],
        ipv6CidrBlocks: ["2001:db8::/64"],
        description: "SSH for the deployer (odapi allowedCidrs)",
      },
      {
        protocol: "tcp",
        fromPort: 8501,
        toPort: 8501,
        cidrBlocks: ["198.51.100.7/32", "0.0.0.0/0"],
        ipv6CidrBlocks: ["2001:db8::/64"],
        description: "TF Serving REST API (odapi allowedCidrs + apiCidrs)",
      },
    ]);
  });

  test("refuses world SSH and port 8500 even if a caller skipped validation", () => {
    expect(() => ingressRules({ adminCidrs: ["::/0"], apiCidrs: [], sshPort: 22, apiPort: 8501 })).toThrow(
      /never be open/,
    );
    expect(() =>
      ingressRules({ adminCidrs: ["10.0.0.0/8"], apiCidrs: [], sshPort: 22, apiPort: 8500 }),
    ).toThrow(/8500/);
  });
});

describe("AMI", () => {
  test("cpu: newest Ubuntu 22.04 amd64 from Canonical", () => {
    expect(amiQuery("cpu")).toEqual({
      owners: ["099720109477"],
      mostRecent: true,
      filters: [
        { name: "name", values: ["ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"] },
        { name: "architecture", values: ["x86_64"] },
        { name: "virtualization-type", values: ["hvm"] },
        { name: "root-device-type", values: ["ebs"] },
        { name: "state", values: ["available"] },
      ],
    });
  });
  test("gpu: the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04), owner amazon", () => {
    const q = amiQuery("gpu");
    expect(q.owners).toEqual(["amazon"]);
    expect(q.filters[0]).toEqual({
      name: "name",
      values: ["Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"],
    });
  });
  test("root snapshot size from the block device mappings", () => {
    expect(
      amiRootSizeGb({
        rootDeviceName: "/dev/sda1",
        blockDeviceMappings: [
          { deviceName: "/dev/sdb", ebs: { volume_size: "500" } },
          { deviceName: "/dev/sda1", ebs: { volume_size: "75" } },
        ],
      }),
    ).toBe(75);
    expect(amiRootSizeGb({})).toBe(8);
  });
});

describe("root volume size", () => {
  test("cpu with the default pair: Ubuntu + images + models + headroom", () => {
    expect(autoRootVolumeGb({ host: "cpu", amiRootGb: 8, catalogModels: 2, localModelBytes: 0 })).toBe(
      8 + 6 + 2 + 8,
    );
  });
  test("gpu: the DLAMI snapshot plus the GPU image", () => {
    expect(autoRootVolumeGb({ host: "gpu", amiRootGb: 75, catalogModels: 2, localModelBytes: 0 })).toBe(
      75 + 14 + 2 + 8,
    );
  });
  test("local models count by size, rounded up; never below 20 GB", () => {
    expect(
      autoRootVolumeGb({ host: "cpu", amiRootGb: 8, catalogModels: 0, localModelBytes: 3.5 * 1024 ** 3 }),
    ).toBe(8 + 6 + 4 + 8);
    expect(autoRootVolumeGb({ host: "cpu", amiRootGb: 1, catalogModels: 0, localModelBytes: 0 })).toBe(20);
  });
});

describe("cloud-init user data", () => {
  const hostKey = {
    privateKeyOpenssh:
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\nAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n",
    publicKeyOpenssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey\n",
  };

  test("installs exactly the given ed25519 host key and no generated ones (parsed back as YAML)", () => {
    const text = renderCloudConfig(hostKey);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(yaml.load(text)).toEqual({
      ssh_deletekeys: true,
      ssh_genkeytypes: [],
      ssh_keys: {
        ed25519_private: hostKey.privateKeyOpenssh,
        ed25519_public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
      },
    });
  });

  test("refuses anything that is not an ed25519 key pair", () => {
    expect(() => renderCloudConfig({ ...hostKey, publicKeyOpenssh: "ssh-rsa AAAA" })).toThrow(/ssh-ed25519/);
    expect(() => renderCloudConfig({ ...hostKey, privateKeyOpenssh: "key: value\n" })).toThrow(
      /OpenSSH private key/,
    );
  });
});

describe("command lines (exact)", () => {
  const ec2 = {
    host: "203.0.113.10",
    port: 22,
    user: "ubuntu",
    hostKey: "ssh-ed25519 AAAAC3Nza host-comment\n",
  };

  test("deploy: connection, remote dir, version, catalog models, local models, gpu, prune, json", () => {
    expect(
      commandLine(
        deployArgv(ec2, {
          remoteDir: "/opt/odapi",
          catalog: ["ssd_mobilenet_v2", "efficientdet_d0"],
          modelsDir: "/home/me/my models",
          version: 3,
          gpu: true,
          prune: true,
        }),
      ),
    ).toBe(
      "node bin/odapi.cjs deploy --host 203.0.113.10 --port 22 --user ubuntu --host-key 'ssh-ed25519 AAAAC3Nza' --remote-dir /opt/odapi --version 3 --catalog ssd_mobilenet_v2 --catalog efficientdet_d0 --models '/home/me/my models' --gpu --prune --json",
    );
  });

  test("deploy without host key, local models or gpu", () => {
    expect(
      deployArgv(
        { host: "srv.example.com", port: 2222, user: "deploy" },
        { remoteDir: "/srv/odapi", catalog: [], version: 1, gpu: false },
      ),
    ).toEqual([
      "node",
      "bin/odapi.cjs",
      "deploy",
      "--host",
      "srv.example.com",
      "--port",
      "2222",
      "--user",
      "deploy",
      "--remote-dir",
      "/srv/odapi",
      "--version",
      "1",
      "--json",
    ]);
  });

  test("stop, strict on an own host, tolerant before an instance is terminated", () => {
    const argv = stopArgv(ec2, "/opt/odapi");
    expect(stopCommandLine(argv, { tolerateFailure: false })).toBe(
      "node bin/odapi.cjs stop --host 203.0.113.10 --port 22 --user ubuntu --host-key 'ssh-ed25519 AAAAC3Nza' --remote-dir /opt/odapi",
    );
    expect(stopCommandLine(argv, { tolerateFailure: true })).toBe(
      "node bin/odapi.cjs stop --host 203.0.113.10 --port 22 --user ubuntu --host-key 'ssh-ed25519 AAAAC3Nza' --remote-dir /opt/odapi || echo 'odapi: could not stop the containers; the instance is terminated next anyway' >&2",
    );
  });

  test("the SSH wait script waits for cloud-init and accepts its 'recoverable errors' status", () => {
    expect(SSH_WAIT_SCRIPT).toBe(
      "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || [ $? -eq 2 ]; fi; echo odapi-ssh-ready",
    );
  });
});

describe("bundle hash", () => {
  const files = renderServingFiles({
    host: "cpu",
    remoteDir: "/opt/odapi",
    models: [{ name: "a" }],
    apiKey: "k".repeat(32),
  });
  const base = {
    servingFiles: files,
    catalog: ["a"],
    localFiles: [
      { relPath: "models/b/1/saved_model.pb", sha256: "1".repeat(64), size: 10 },
      { relPath: "models/b/1/variables/variables.index", sha256: "2".repeat(64), size: 5 },
    ],
    version: 1,
    gpu: false,
    remoteDir: "/opt/odapi",
  };

  test("is a sha256 hex, independent of listing order", () => {
    const h = bundleHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(
      bundleHash({ ...base, servingFiles: [...files].reverse(), localFiles: [...base.localFiles].reverse() }),
    ).toBe(h);
  });

  test.each<[string, Partial<typeof base>]>([
    [
      "a rendered file",
      { servingFiles: files.map((f, i) => (i === 0 ? { ...f, content: `${f.content}#` } : f)) },
    ],
    ["a file mode", { servingFiles: files.map((f, i) => (i === 0 ? { ...f, mode: 0o600 } : f)) }],
    ["the catalog", { catalog: ["a", "c"] }],
    ["a local file", { localFiles: [{ ...base.localFiles[0], sha256: "3".repeat(64) }, base.localFiles[1]] }],
    ["the version", { version: 2 }],
    ["the host kind", { gpu: true }],
    ["the remote dir", { remoteDir: "/srv/odapi" }],
  ])("changes with %s", (_what, change) => {
    expect(bundleHash({ ...base, ...change })).not.toBe(bundleHash(base));
  });

  test("local model names from relPaths", () => {
    expect(
      localModelNames([
        ...base.localFiles,
        { relPath: "models/a/2/saved_model.pb" },
        { relPath: "config/x" },
      ]),
    ).toEqual(["a", "b"]);
  });
});

describe("output values", () => {
  test("API and predict URLs", () => {
    expect(apiBaseUrl("203.0.113.10", 8501)).toBe("http://203.0.113.10:8501");
    expect(apiBaseUrl("2001:db8::1", 8501)).toBe("http://[2001:db8::1]:8501");
    expect(apiBaseUrl("203.0.113.10", 8501, true)).toBe("https://203.0.113.10:8501");
    expect(predictUrls("http://h:8501", ["a", "b"])).toEqual({
      a: "http://h:8501/v1/models/a:predict",
      b: "http://h:8501/v1/models/b:predict",
    });
  });
  test("ssh command with the pinned known_hosts file, and a matching known_hosts line", () => {
    expect(
      sshCommand({
        user: "ubuntu",
        host: "203.0.113.10",
        port: 22,
        keyFile: "odapi-cpu.pem",
        knownHostsFile: "odapi-cpu.known_hosts",
      }),
    ).toBe(
      "ssh -i odapi-cpu.pem -o UserKnownHostsFile=odapi-cpu.known_hosts -o StrictHostKeyChecking=yes ubuntu@203.0.113.10",
    );
    expect(sshCommand({ user: "me", host: "srv", port: 2222, keyFile: "k.pem" })).toBe(
      "ssh -i k.pem -p 2222 me@srv",
    );
    expect(knownHostsLine("203.0.113.10", 22, "ssh-ed25519 AAAA comment\n")).toBe(
      "203.0.113.10 ssh-ed25519 AAAA",
    );
    expect(knownHostsLine("srv", 2222, "ssh-ed25519 AAAA")).toBe("[srv]:2222 ssh-ed25519 AAAA");
  });
});
