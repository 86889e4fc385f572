// Observability with the real daemon: GET /metrics moves with the requests
// (parsed from the exposition), X-Request-Id is echoed or made and appears in
// the JSON access line, no password or token reaches the log, the metrics
// endpoint's access rules and listener, and the storage quota (507 DENIED
// for pushes, pulls still served).
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/auth_support.h"
#include "integration/support/fixture.h"

namespace berth::it {
namespace {

// Replaces the first `from` of the daemon's config file (written by the
// harness) with `to`, before the daemon starts.
void editConfig(const std::string& path, const std::string& from, const std::string& to) {
  std::string cfg = readFile(path);
  auto at = cfg.find(from);
  if (at == std::string::npos) throw std::runtime_error("no '" + from + "' in the config: " + cfg);
  cfg.replace(at, from.size(), to);
  writeFile(path, cfg);
}

// name{labels} -> value.
std::map<std::string, double> parseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

std::string requestsKey(const std::string& family, const std::string& route, const std::string& method, int status) {
  return "berth_http_requests_total{family=\"" + family + "\",route=\"" + route + "\",method=\"" + method +
         "\",status=\"" + std::to_string(status) + "\"}";
}

// The JSON lines of the log.
std::vector<nlohmann::json> jsonLines(const std::string& log) {
  std::vector<nlohmann::json> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// The access line with this request id, waiting a little for the log to be written.
nlohmann::json accessLine(const Daemon& d, const std::string& id) {
  for (int i = 0; i < 200; ++i) {
    for (auto& j : jsonLines(d.log()))
      if (j.value("msg", "") == "access" && j.value("request_id", "") == id) return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return nullptr;
}

class MetricsTest : public RegistryTest {
 protected:
  std::map<std::string, double> scrape() {
    auto r = http_.get("/metrics");
    EXPECT_EQ(r.status, 200) << r.describe();
    return parseMetrics(r.body);
  }
};

TEST_F(MetricsTest, RequestsMoveTheirCounters) {
  auto r = http_.get("/metrics");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE berth_http_requests_total counter"), std::string::npos);

  auto img = makeImage();
  local_.pushImage(img, "v1");
  auto before = scrape();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(local_.getManifest("v1").status, 200);
  EXPECT_EQ(local_.getBlob(img.layers[0].digest).status, 200);
  EXPECT_EQ(http_.get("/api/docker/docker-local/v2/app/manifests/v1").status, 200);
  EXPECT_EQ(local_.getManifest("nope").status, 404);
  auto after = scrape();

  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta(requestsKey("v2", "manifest", "GET", 200)), 3);
  EXPECT_EQ(delta(requestsKey("v2", "manifest", "GET", 404)), 1);
  EXPECT_EQ(delta(requestsKey("v2", "blob", "GET", 200)), 1);
  EXPECT_EQ(delta(requestsKey("artifactory", "manifest", "GET", 200)), 1);
  // The scrape before counts itself once it is answered.
  EXPECT_EQ(delta(requestsKey("system", "metrics", "GET", 200)), 1);
  EXPECT_GE(value(before, requestsKey("v2", "manifest", "PUT", 201)), 1);
  EXPECT_GE(value(before, requestsKey("v2", "upload_start", "POST", 201)), 3);
  EXPECT_EQ(delta("berth_http_sent_bytes_total{family=\"v2\"}"),
            3 * double(img.manifest.bytes.size()) + double(img.layers[0].bytes.size()) +
                double(local_.getManifest("nope").body.size()));
  EXPECT_GE(value(before, "berth_http_received_bytes_total{family=\"v2\"}"), double(img.layers[0].bytes.size()));
  EXPECT_EQ(delta("berth_http_request_duration_seconds_count{family=\"v2\",route=\"manifest\"}"), 4);
  EXPECT_GE(value(after, "berth_connections_open"), 1);
  EXPECT_EQ(value(after, "berth_uploads_in_progress"), 0);
}

TEST_F(MetricsTest, UploadsInProgressAndStoredBlobs) {
  auto start = local_.startUpload();
  ASSERT_EQ(start.status, 202) << start.describe();
  EXPECT_EQ(value(scrape(), "berth_uploads_in_progress"), 1);

  // The stored figures appear once the startup count is done, then follow pushes.
  std::map<std::string, double> m;
  for (int i = 0; i < 500 && !m.count("berth_storage_blobs"); ++i) {
    m = scrape();
    if (!m.count("berth_storage_blobs")) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(m.count("berth_storage_blobs"));
  auto img = makeImage();
  local_.pushImage(img, "v1");
  m = scrape();
  EXPECT_EQ(m["berth_storage_blobs"], double(blobFiles().size()));
  double bytes = double(img.config.bytes.size() + img.manifest.bytes.size());
  for (const auto& l : img.layers) bytes += double(l.bytes.size());
  EXPECT_EQ(m["berth_storage_bytes"], bytes);
}

TEST_F(MetricsTest, RequestIdIsEchoedOrMade) {
  auto echoed = http_.get("/v2/", {{"X-Request-Id", "trace-42.abc"}});
  EXPECT_EQ(echoed.header("X-Request-Id"), "trace-42.abc");
  auto made = http_.get("/v2/");
  EXPECT_TRUE(std::regex_match(made.header("X-Request-Id"), std::regex("[0-9a-f]{16}"))) << made.describe();
  EXPECT_NE(http_.get("/v2/").header("X-Request-Id"), made.header("X-Request-Id"));
  // Too long, or with characters that could forge log fields: replaced.
  auto too_long = http_.get("/v2/", {{"X-Request-Id", std::string(200, 'a')}});
  EXPECT_TRUE(std::regex_match(too_long.header("X-Request-Id"), std::regex("[0-9a-f]{16}")));
  auto quoted = http_.get("/v2/", {{"X-Request-Id", "a\"b c"}});
  EXPECT_TRUE(std::regex_match(quoted.header("X-Request-Id"), std::regex("[0-9a-f]{16}")));
  // Error answers carry it too.
  EXPECT_EQ(http_.get("/v2/docker-local/app/manifests/nope", {{"X-Request-Id", "missing-1"}}).header("X-Request-Id"),
            "missing-1");
}

class JsonLogTest : public RegistryTest {
 protected:
  JsonLogTest() : RegistryTest(DaemonOptions{.log_level = "info"}) {}
  void SetUp() override {
    editConfig(daemon_.configPath(), "format: text", "format: json");
    RegistryTest::SetUp();
  }
};

TEST_F(JsonLogTest, OneAccessLineWithEveryFieldAsJson) {
  auto img = makeImage();
  local_.pushImage(img, "v1");
  Request req;
  req.target = "/v2/docker-local/app/manifests/v1?secret=hunter2";
  req.headers.add("X-Request-Id", "json-line-1");
  req.headers.add("Accept", img.manifest.media_type);
  auto r = http_.send(req);
  ASSERT_EQ(r.status, 200) << r.describe();
  auto line = accessLine(daemon_, "json-line-1");
  ASSERT_FALSE(line.is_null()) << daemon_.log();
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["method"], "GET");
  EXPECT_EQ(line["path"], "/v2/docker-local/app/manifests/v1");  // the query string is not logged
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["bytes_in"], 0);
  EXPECT_EQ(line["bytes_out"], img.manifest.bytes.size());
  EXPECT_TRUE(line["duration_ms"].is_number());
  EXPECT_EQ(line["user"], "");
  EXPECT_EQ(line["repository"], "docker-local");
  EXPECT_EQ(line["client"], "127.0.0.1");
  EXPECT_TRUE(line["time"].is_string());
  EXPECT_EQ(daemon_.log().find("hunter2"), std::string::npos);
  // Exactly one access line for it; every line of the log is JSON.
  int n = 0;
  for (auto& j : jsonLines(daemon_.log())) n += j.value("request_id", "") == "json-line-1";
  EXPECT_EQ(n, 1);
  std::istringstream in(daemon_.log());
  std::string text;
  while (std::getline(in, text))
    EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded()) << text;
}

TEST_F(MetricsTest, OwnListenerServesMetricsAndTheMainOneDoesNot) {
  Daemon d(DaemonOptions{.log_level = "info"});
  editConfig(d.configPath(), "repositories:", "metrics: {listen: \"127.0.0.1:0\"}\nrepositories:");
  d.start();
  std::smatch m;
  std::string log = d.log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("metrics listening on 127\\.0\\.0\\.1:([0-9]+)"))) << log;
  HttpClient own("127.0.0.1", uint16_t(std::stoi(m[1])));
  auto r = own.get("/metrics");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_NE(r.body.find("berth_connections_open"), std::string::npos);
  EXPECT_EQ(own.get("/v2/").status, 404);
  HttpClient main_listener(d.host(), d.port());
  EXPECT_EQ(main_listener.get("/metrics").status, 404);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST_F(MetricsTest, DisabledMetricsAreNotServed) {
  Daemon d;
  editConfig(d.configPath(), "repositories:", "metrics: {enabled: false}\nrepositories:");
  d.start();
  HttpClient c(d.host(), d.port());
  EXPECT_EQ(c.get("/metrics").status, 404);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

// ---- the storage quota ----

class QuotaTest : public RegistryTest {};

TEST_F(QuotaTest, PushesGet507DeniedWhilePullsGoOn) {
  auto img = makeImage();
  local_.pushImage(img, "v1");
  // A floor no disk reaches.
  http_.close();
  daemon_.stop();
  editConfig(daemon_.configPath(), "storage: {", "storage: {min_free_bytes: 9000000000000000000, ");
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());

  auto blob = local_.pushBlob("new content");
  EXPECT_API_ERROR(blob, 507, "DENIED");
  EXPECT_NE(blob.json()["errors"][0]["message"].get<std::string>().find("storage"), std::string::npos) << blob.body;
  EXPECT_API_ERROR(local_.startUpload(), 507, "DENIED");
  EXPECT_API_ERROR(local_.putManifest("v2", img.manifest), 507, "DENIED");
  Request art;
  art.method = "PUT";
  art.target = "/api/docker/docker-local/v2/app/manifests/v3";
  art.headers.add("Content-Type", img.manifest.media_type);
  art.body = img.manifest.bytes;
  EXPECT_API_ERROR(http_.send(art), 507, "DENIED");

  // Pulls, reads and deletes go on.
  EXPECT_EQ(local_.getManifest("v1").status, 200);
  EXPECT_EQ(local_.getBlob(img.layers[0].digest).status, 200);
  EXPECT_EQ(local_.tags().status, 200);
  EXPECT_EQ(http_.get("/health/live").status, 200);
  EXPECT_GE(parseMetrics(http_.get("/metrics").body)["berth_storage_quota_refusals_total"], 4);
}

TEST_F(QuotaTest, AFloorBelowTheFreeSpaceRefusesNothing) {
  http_.close();
  daemon_.stop();
  editConfig(daemon_.configPath(), "storage: {", "storage: {min_free_bytes: 1, ");
  daemon_.start();
  http_.retarget(daemon_.host(), daemon_.port());
  local_.pushImage(makeImage(), "v1");
}

}  // namespace

// ---- secured daemon: secrets, auth failures, who may read /metrics ----
namespace authit {
namespace {

// SecureTest's start, with edits to its config.
class EditedSecureTest : public SecureTest {
 protected:
  void startWith(const std::string& from, const std::string& to) {
    writeFile(daemon_.configPath(), configYaml(opts_, daemon_.storageRoot()));
    editConfig(daemon_.configPath(), from, to);
    daemon_.start();
    http_.retarget(daemon_.host(), daemon_.port());
  }
};

class SecretsTest : public EditedSecureTest {
 protected:
  void SetUp() override { startWith("log: {level: warn, format: text}", "log: {level: debug, format: json}"); }
};

TEST_F(SecretsTest, NoPasswordOrTokenReachesTheLog) {
  // A login, a push with the token, a refused password, an access token made and used.
  std::string token = dockerToken("deployer", {"repository:docker-dev/app:pull,push"});
  ASSERT_FALSE(token.empty());
  auto img = makeImage();
  auto pushed = withBearer(token).pushImage("/v2/docker-dev/app", img, "v1");
  EXPECT_EQ(pushed.status, 201) << pushed.describe();
  EXPECT_EQ(as("deployer").getManifest("/v2/docker-dev/app", "v1").status, 200);
  auto wrong = As(http_, {{"Authorization", basic("deployer", "Wrong-Secret-77")}}).get("/v2/token?service=x");
  EXPECT_EQ(wrong.status, 401);
  Request form_req;
  form_req.method = "POST";
  form_req.target = "/v2/token";
  form_req.headers.add("Content-Type", "application/x-www-form-urlencoded");
  form_req.body = "grant_type=password&username=deployer&password=Form-Secret-99&service=x";
  auto form = http_.send(form_req);
  EXPECT_EQ(form.status, 401) << form.describe();
  auto at = as("root").post("/api/security/token", "username=deployer&scope=member-of-groups:*",
                            {{"Content-Type", "application/x-www-form-urlencoded"}});
  std::string access_token = at.json().value("access_token", "");
  if (!access_token.empty()) {
    EXPECT_EQ(withBearer(access_token).get("/v2/").status, 200);
  }

  // Every line was written synchronously (flush on info); give the last one a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string log = daemon_.log();
  for (const std::string& secret : {pw("deployer"), pw("root"), std::string("Wrong-Secret-77"),
                                    std::string("Form-Secret-99"), token, base64("deployer:" + pw("deployer"))})
    EXPECT_EQ(log.find(secret), std::string::npos) << "secret in the log: " << secret;
  if (!access_token.empty()) {
    EXPECT_EQ(log.find(access_token), std::string::npos);
  }
  // The token's parts (a JWT's signature) stay out too.
  EXPECT_EQ(log.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  // The access lines name the user.
  bool saw_user = false;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == "access" && j.value("user", "") == "deployer") saw_user = true;
  }
  EXPECT_TRUE(saw_user) << log;
}

class SecureMetricsTest : public EditedSecureTest {
 protected:
  void SetUp() override { startWith("repositories:", "metrics: {require_permission: true}\nrepositories:"); }
};

TEST_F(SecureMetricsTest, OnlyAdministratorsReadMetricsWhenRequired) {
  EXPECT_EQ(anon().get("/metrics").status, 401);
  EXPECT_EQ(as("reader").get("/metrics").status, 403);
  auto r = as("root").get("/metrics");
  ASSERT_EQ(r.status, 200) << r.describe();
  // An administrator's tokens are not an administrator's login (review: an
  // administrator's pull token read the metrics).
  auto pull = dockerToken("root", {"repository:docker-dev/app:pull"});
  ASSERT_FALSE(pull.empty());
  EXPECT_API_ERROR(withBearer(pull).get("/metrics"), 401, "UNAUTHORIZED");
  // An administrator's access token may read them (a scraper needs no
  // password), unless narrowed to some repositories.
  auto token = [&](const nlohmann::json& body) {
    auto at = as("root").post("/api/security/token", body.dump(), {{"Content-Type", "application/json"}});
    std::string t = at.json().value("access_token", "");
    EXPECT_FALSE(t.empty()) << at.describe();
    return As(http_, {{"Authorization", basic("root", t)}});
  };
  EXPECT_EQ(token(nlohmann::json::object()).get("/metrics").status, 200);
  auto narrowed = nlohmann::json{{"repositories", {"docker-dev"}}, {"actions", {"read"}}};
  EXPECT_API_ERROR(token(narrowed).get("/metrics"), 403, "DENIED");
  // Auth failures are counted by kind.
  As(http_, {{"Authorization", basic("reader", "nope")}}).get("/v2/");
  As(http_, {{"Authorization", "Bearer not.a.token"}}).get("/v2/");
  As(http_, {{"Authorization", "Digest x"}}).get("/v2/");
  auto m = parseMetrics(as("root").get("/metrics").body);
  EXPECT_GE(value(m, "berth_auth_failures_total{kind=\"bad_credentials\"}"), 1);
  EXPECT_GE(value(m, "berth_auth_failures_total{kind=\"bad_token\"}"), 1);
  EXPECT_GE(value(m, "berth_auth_failures_total{kind=\"malformed\"}"), 1);
}

TEST_F(SecureTest, MetricsAreOpenToAnonymousByDefault) {
  EXPECT_EQ(anon().get("/metrics").status, 200);
  auto denied = as("reader").put("/v2/docker-dev/app/manifests/v1", "{}", {{"Content-Type", mt::kOciManifest}});
  EXPECT_EQ(denied.status, 403);
  auto m = parseMetrics(anon().get("/metrics").body);
  EXPECT_GE(value(m, "berth_auth_failures_total{kind=\"denied\"}"), 1);
  EXPECT_GE(value(m, requestsKey("v2", "manifest", "PUT", 403)), 1);
}

}  // namespace
}  // namespace authit
}  // namespace berth::it
