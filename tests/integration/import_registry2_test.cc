// berth import-registry2 (the real binary) on storages written by Debian's
// docker-registry through real pushes: everything pulls back from Berth
// byte for byte, by tag and by digest; corrupt blobs and dangling links are
// reported and skipped; it works beside a running Berth; twice is once.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <cstdlib>
#include <map>
#include <regex>
#include <thread>

#include "integration/support/daemon.h"
#include "integration/support/distribution_registry.h"
#include "integration/support/registry.h"
#include "integration/support/upstream_content.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;

// One manifest pushed, with the blobs it needs (empty for an index).
struct Pushed {
  std::string name, reference;  // reference: a tag, or the digest for untagged ones
  Manifest manifest;
  std::vector<Blob> blobs;
};

Pushed pushed(const std::string& name, const std::string& ref, const Image& img) {
  std::vector<Blob> blobs{img.config};
  blobs.insert(blobs.end(), img.layers.begin(), img.layers.end());
  return {name, ref.empty() ? img.manifest.digest : ref, img.manifest, blobs};
}

// A random image whose first layer is `shared`.
Image imageSharing(const Blob& shared, const std::string& type) {
  Image img = makeImage(type, 2);
  img.layers[0] = shared;
  nlohmann::json doc = nlohmann::json::parse(img.manifest.bytes);
  doc["layers"][0] = descriptorOf(type == mt::kDockerManifest ? mt::kDockerLayer : mt::kOciLayer, shared);
  img.manifest = Manifest::of(type, doc);
  return img;
}

// Several images over three repositories (one nested name), layers shared
// within and across them, several tags, an untagged manifest, an OCI index
// and a Docker manifest list.
std::vector<Pushed> fill(DistributionRegistry& registry) {
  HttpClient http = registry.client();
  std::vector<Pushed> out;
  ImageClient app(http, "/v2/team/app"), base(http, "/v2/library/base"), multi(http, "/v2/team/multi");
  Image a = makeImage(mt::kDockerManifest, 3), b = imageSharing(a.layers[0], mt::kOciManifest);
  Image c = imageSharing(a.layers[1], mt::kOciManifest), d = imageSharing(a.layers[1], mt::kDockerManifest);
  pushImageTo(app, a, "v1");
  EXPECT_EQ(app.putManifest("latest", a.manifest).status, 201);
  pushImageTo(app, b, "v2");
  pushImageTo(app, c);  // by digest only: a revision without a tag
  pushImageTo(base, d, "1.0");
  for (auto p : {pushed("team/app", "v1", a), pushed("team/app", "latest", a), pushed("team/app", "v2", b),
                 pushed("team/app", "", c), pushed("library/base", "1.0", d)})
    out.push_back(p);
  for (const auto& [type, tag] : {std::pair{mt::kOciIndex, "multi"}, std::pair{mt::kDockerList, "list"}}) {
    MultiArch m = makeMultiArch(type);
    pushMultiArch(multi, m, tag);
    out.push_back({"team/multi", tag, m.index, {}});
    for (const auto& img : m.images) out.push_back(pushed("team/multi", "", img));
  }
  return out;
}

void expectPullable(HttpClient& http, const std::vector<Pushed>& all) {
  for (const auto& p : all) {
    ImageClient image(http, "/v2/docker-local/" + p.name);
    for (const std::string& ref : {p.reference, p.manifest.digest}) {
      Response m = image.getManifest(ref);
      ASSERT_EQ(m.status, 200) << p.name << ":" << ref << " " << m.describe();
      EXPECT_EQ(m.body, p.manifest.bytes) << p.name << ":" << ref;
      EXPECT_EQ(m.header("Content-Type"), p.manifest.media_type) << p.name << ":" << ref;
      EXPECT_EQ(m.header("Docker-Content-Digest"), p.manifest.digest);
    }
    for (const auto& blob : p.blobs) {
      Response r = image.getBlob(blob.digest);
      EXPECT_EQ(r.status, 200) << p.name << " " << blob.digest;
      EXPECT_EQ(r.body, blob.bytes) << p.name << " " << blob.digest;
    }
  }
}

// "<what>  <n> imported" from the report.
long imported(const std::string& out, const std::string& what) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("  " + what + " +([0-9]+) imported"))) return -1;
  return std::stol(m[1]);
}

CommandResult importInto(const Daemon& berth, const std::string& root) {
  return runBerth({"import-registry2", "--root", root, "--into", "docker-local", "--config", berth.configPath()});
}

// Every file of a tree with its size, mtime and content digest.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& rel : filesUnder(dir)) {
    struct stat st {};
    ::stat((dir + "/" + rel).c_str(), &st);
    out[rel] = std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec) + " " + sha256Of(readFile(dir + "/" + rel));
  }
  return out;
}

std::string registryBlob(const DistributionRegistry& r, const std::string& digest) {
  std::string hex = digest.substr(7);
  return r.storageRoot() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

std::string berthBlob(const Daemon& d, const std::string& digest) {
  std::string hex = digest.substr(7);
  return d.storageRoot() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex;
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(ImportRegistry2, EverythingPullsBackByTagAndDigestAndTwiceImportsNothingNew) {
  DistributionRegistry registry;
  auto all = fill(registry);
  // A layer of several MiB: hashed in several reads, installed as the rest.
  HttpClient http = registry.client();
  ImageClient big_client(http, "/v2/team/big");
  GeneratedBlob big(5 << 20 | 123, 42);
  ASSERT_EQ(uploadBlob(big_client, big).status, 201);
  Image big_image = makeImageOver({big.descriptor()}, mt::kOciManifest);
  pushImageTo(big_client, big_image, "big");
  registry.stop();
  auto before = snapshot(registry.storageRoot());

  Daemon berth({.repositories = {"docker-local"}});
  CommandResult r = importInto(berth, registry.storageRoot());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("skipped ("), std::string::npos) << r.out;
  EXPECT_EQ(imported(r.out, "images"), 4) << r.out;
  EXPECT_EQ(imported(r.out, "tags"), 7) << r.out;  // v1 latest v2 1.0 multi list big
  EXPECT_EQ(imported(r.out, "manifests"), 11) << r.out;
  EXPECT_NE(r.out.find(" hard-linked, 0 copied"), std::string::npos) << r.out;
  // Hard links: the very same files, and the source untouched.
  EXPECT_EQ(inodeOf(berthBlob(berth, all[0].blobs[1].digest)), inodeOf(registryBlob(registry, all[0].blobs[1].digest)));
  EXPECT_EQ(snapshot(registry.storageRoot()), before);

  EXPECT_EQ(r.err.find("\33[K"), std::string::npos) << "a progress line without a terminal";

  berth.start();
  HttpClient b(berth.host(), berth.port());
  expectPullable(b, all);
  PulledBlob pulled = pullHashed(b, "/v2/docker-local/team/big/blobs/" + big.digest());
  EXPECT_EQ(pulled.status, 200);
  EXPECT_EQ(pulled.digest, big.digest());
  Response tags = b.get("/v2/docker-local/team/app/tags/list");
  EXPECT_EQ(nlohmann::json::parse(tags.body)["tags"], nlohmann::json({"latest", "v1", "v2"}));

  // Again, with Berth running: nothing new, nothing skipped.
  CommandResult again = importInto(berth, registry.storageRoot());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  for (const char* what : {"images", "blobs", "blob links", "manifests", "tags"})
    EXPECT_EQ(imported(again.out, what), 0) << what << "\n" << again.out;
  expectPullable(b, all);
  EXPECT_EQ(snapshot(registry.storageRoot()), before);
}

TEST(ImportRegistry2, CorruptBlobsAndDanglingLinksAreReportedAndSkipped) {
  DistributionRegistry registry;
  HttpClient http = registry.client();
  ImageClient app(http, "/v2/team/app"), bad(http, "/v2/team/bad");
  Image good = makeImage(mt::kOciManifest, 2), spoiled = makeImage(mt::kDockerManifest, 2);
  pushImageTo(app, good, "v1");
  pushImageTo(bad, spoiled, "v1");
  registry.stop();

  const std::string v2 = registry.storageRoot() + "/docker/registry/v2";
  const std::string ghost = sha256Of("never pushed"), ghost_hex = ghost.substr(7);
  // A layer whose bytes changed on disk (bit rot).
  std::string corrupt_path = registryBlob(registry, spoiled.layers[1].digest);
  std::string corrupt_bytes = spoiled.layers[1].bytes;
  corrupt_bytes[10] ^= 1;
  writeFile(corrupt_path, corrupt_bytes);
  // Links to content registry:2 does not have: a layer, a revision, a tag.
  for (const std::string& dir : {v2 + "/repositories/team/app/_layers/sha256/" + ghost_hex,
                                 v2 + "/repositories/team/app/_manifests/revisions/sha256/" + ghost_hex,
                                 v2 + "/repositories/team/app/_manifests/tags/ghost/current"}) {
    fs::create_directories(dir);
    writeFile(dir + "/link", ghost);
  }
  const std::string nowhere = sha256Of("no revision either");
  fs::create_directories(v2 + "/repositories/team/app/_manifests/tags/nowhere/current");
  writeFile(v2 + "/repositories/team/app/_manifests/tags/nowhere/current/link", nowhere);
  // A repository name outside the grammar.
  fs::create_directories(v2 + "/repositories/Team/UPPER/_manifests/tags");

  Daemon berth({.repositories = {"docker-local"}});
  CommandResult r = importInto(berth, registry.storageRoot());
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("blob " + spoiled.layers[1].digest + ": corrupt (its data hashes to " + sha256Of(corrupt_bytes)),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blob " + ghost + ": missing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team/app: manifest " + ghost + ": its blob is missing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team/app:ghost: its manifest " + ghost + " was skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team/app:nowhere: dangling: names " + nowhere), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team/bad: manifest " + spoiled.manifest.digest + ": a blob it references could not be imported"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("image 'Team/UPPER': not a valid image name"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tags        1 imported, 0 already in Berth, 3 skipped"), std::string::npos) << r.out;

  berth.start();
  HttpClient b(berth.host(), berth.port());
  expectPullable(b, {pushed("team/app", "v1", good)});
  ImageClient bad_in_berth(b, "/v2/docker-local/team/bad");
  EXPECT_EQ(bad_in_berth.getManifest("v1").status, 404);
  EXPECT_EQ(bad_in_berth.getBlob(spoiled.layers[1].digest).status, 404);
  EXPECT_FALSE(fs::exists(berthBlob(berth, spoiled.layers[1].digest)));
  EXPECT_EQ(readFile(corrupt_path), corrupt_bytes);  // the source is left as it was

  // Again: the same report of what is skipped, nothing new.
  CommandResult again = importInto(berth, registry.storageRoot());
  EXPECT_EQ(again.exit_code, 3);
  EXPECT_EQ(again.out.substr(again.out.find("skipped (")), r.out.substr(r.out.find("skipped (")));
  for (const char* what : {"blobs", "blob links", "manifests", "tags"}) EXPECT_EQ(imported(again.out, what), 0) << what;
}

// An untrusted tree: a layer's data is a symbolic link to a file outside the
// root (with the right bytes), a tag's link is a FIFO. Both are refused and
// reported, the import finishes (exit 3), and the rest pulls back.
TEST(ImportRegistry2, RefusesSymbolicLinksAndFifosInTheSource) {
  DistributionRegistry registry;
  auto all = fill(registry);
  registry.stop();
  const Pushed& v1 = all[0];  // team/app:v1 (and :latest), whose third layer no other image has
  ASSERT_EQ(v1.reference, "v1");
  std::string layer = v1.blobs[3].digest, outside = makeTempDir() + "/layer";
  fs::rename(registryBlob(registry, layer), outside);
  fs::create_symlink(outside, registryBlob(registry, layer));
  std::string fifo_dir = registry.storageRoot() + "/docker/registry/v2/repositories/team/app/_manifests/tags/fifo/current";
  fs::create_directories(fifo_dir);
  ASSERT_EQ(::mkfifo((fifo_dir + "/link").c_str(), 0644), 0);

  Daemon berth({.repositories = {"docker-local"}});
  CommandResult r = importInto(berth, registry.storageRoot());
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("blob " + layer + ": unreadable (blobs/sha256/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/data: a symbolic link (not followed))"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("team/app:fifo: repositories/team/app/_manifests/tags/fifo/current/link: not a regular file "
                       "(a FIFO): refused"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(berthBlob(berth, layer)));
  struct stat st {};
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);  // not linked into Berth's store either

  std::vector<Pushed> rest;
  for (const auto& p : all)
    if (p.manifest.digest != v1.manifest.digest) rest.push_back(p);
  berth.start();
  HttpClient b(berth.host(), berth.port());
  expectPullable(b, rest);
  EXPECT_EQ(ImageClient(b, "/v2/docker-local/team/app").getManifest("v1").status, 404);
  fs::remove_all(fs::path(outside).parent_path());
}

TEST(ImportRegistry2, RunsBesideARunningBerthWithoutTakingItsTags) {
  DistributionRegistry registry;
  auto all = fill(registry);
  registry.stop();

  Daemon berth({.repositories = {"docker-local"}});
  berth.start();
  HttpClient b(berth.host(), berth.port());
  // Pushed to Berth before the import: registry:2's team/app:v1 must not replace it.
  ImageClient app(b, "/v2/docker-local/team/app");
  Image mine = makeImage(mt::kOciManifest, 1);
  app.pushImage(mine, "v1");

  // Pushes go on while the import writes to the same database and blob store.
  std::vector<Image> live;
  for (int i = 0; i < 12; ++i) live.push_back(makeImage(mt::kOciManifest, 2));
  std::thread pusher([&] {
    HttpClient c(berth.host(), berth.port());
    ImageClient image(c, "/v2/docker-local/team/live");
    for (std::size_t i = 0; i < live.size(); ++i) image.pushImage(live[i], "t" + std::to_string(i));
  });
  CommandResult r = importInto(berth, registry.storageRoot());
  pusher.join();
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("team/app:v1: Berth's tag names " + mine.manifest.digest), std::string::npos) << r.out;

  std::vector<Pushed> expected{pushed("team/app", "v1", mine)};
  for (const auto& p : all)
    if (!(p.name == "team/app" && p.reference == "v1")) expected.push_back(p);
  for (std::size_t i = 0; i < live.size(); ++i) expected.push_back(pushed("team/live", "t" + std::to_string(i), live[i]));
  expectPullable(b, expected);
  for (const auto& f : filesUnder(berth.storageRoot() + "/tmp")) ADD_FAILURE() << "temp file left: " << f;
}

TEST(ImportRegistry2, CopiesAcrossFilesystems) {
  struct stat tmp_st {}, shm_st {};
  if (::stat("/tmp", &tmp_st) != 0 || ::stat("/dev/shm", &shm_st) != 0 || tmp_st.st_dev == shm_st.st_dev)
    GTEST_SKIP() << "needs /dev/shm on another filesystem than /tmp";
  DistributionRegistry registry;
  auto all = fill(registry);
  registry.stop();
  std::string elsewhere = "/dev/shm/berth-import-" + std::to_string(::getpid());
  fs::copy(registry.storageRoot(), elsewhere, fs::copy_options::recursive);

  Daemon berth({.repositories = {"docker-local"}});
  CommandResult r = importInto(berth, elsewhere);
  fs::remove_all(elsewhere);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("(0 hard-linked, "), std::string::npos) << r.out;
  berth.start();
  HttpClient b(berth.host(), berth.port());
  expectPullable(b, all);
}

// On a terminal (script(1) gives it a pty) one line is rewritten in place, then cleared.
TEST(ImportRegistry2, ShowsProgressOnATerminalOnly) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a pseudo-terminal";
  DistributionRegistry registry;
  fill(registry);
  registry.stop();
  Daemon berth({.repositories = {"docker-local"}});
  std::string out_file = berth.dir() + "/typescript";
  std::string cmd = std::string("script -qec '") + BERTH_BINARY + " import-registry2 --root " +
                    registry.storageRoot() + " --into docker-local --config " + berth.configPath() + "' " + out_file +
                    " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string seen = readFile(out_file);
  EXPECT_NE(seen.find("\r\33[K[1/3] library/base  blobs "), std::string::npos) << seen;
  EXPECT_NE(seen.find("imported "), std::string::npos) << seen;
}

TEST(ImportRegistry2, RefusesWhatItCannotImportInto) {
  Daemon berth({.repositories = {"docker-local"}});
  std::string empty = makeTempDir();
  CommandResult not_registry = importInto(berth, empty);
  EXPECT_EQ(not_registry.exit_code, 1);
  EXPECT_NE(not_registry.err.find("not a registry:2 filesystem storage"), std::string::npos) << not_registry.err;
  fs::create_directories(empty + "/docker/registry/v2/repositories");
  CommandResult unknown = runBerth({"import-registry2", "--root", empty, "--into", "nope", "--config", berth.configPath()});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no repository 'nope'"), std::string::npos) << unknown.err;
  EXPECT_EQ(runBerth({"import-registry2", "--root", empty}).exit_code, 2);
  // Files a daemon of another user could not open are never written.
  if (::geteuid() == 0) {
    fs::create_directories(berth.storageRoot());
    ASSERT_EQ(::chown(berth.storageRoot().c_str(), 12345, 12345), 0);
    CommandResult foreign = importInto(berth, empty);
    EXPECT_EQ(foreign.exit_code, 1);
    EXPECT_NE(foreign.err.find("belongs to uid 12345"), std::string::npos) << foreign.err;
    EXPECT_FALSE(fs::exists(berth.storageRoot() + "/metadata.db"));
  }
  fs::remove_all(empty);
}

}  // namespace
}  // namespace berth::it
