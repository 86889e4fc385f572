// berth: flags, config, build the server, run. Nothing else.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "berth/config.h"
#include "observe/logging.h"
#include "ops/fsck.h"
#include "ops/import_registry2_cli.h"
#include "ops/proxy_config.h"
#include "server/app.h"
#include "server/gc_command.h"
#include "server/healthcheck.h"
#include "server/port_check.h"
#include "server/storage_check.h"

namespace {

void usage() {
  std::cout << "usage: berth [--config FILE] [--ready-file FILE]   serve\n"
               "       berth check-config [--config FILE]          validate a config and exit\n"
               "       berth healthcheck [--config FILE] [--address HOST:PORT] [--live] [--timeout SECONDS]\n"
               "                                                   exit 0 if that berth answers /health/ready\n"
               "                                                   (or /health/live) with 200, else 1\n"
               "       berth fsck [--config FILE] [--quick] [--json]  check the storage root, read-only: exit 0\n"
               "                                                   clean, 1 problems found, 2 could not check\n"
               "       berth import-registry2 --root DIR --into REPO_KEY   import a registry:2 storage\n"
               "       berth gc [--config FILE] [--dry-run]        collect garbage with no server running\n"
               "       berth proxy-config --kind nginx|haproxy [--server-name NAME] [--listen [HOST:]PORT]\n"
               "                          [--plain-http] [--cert FILE] [--key FILE]\n"
               "                                                   print a reverse-proxy configuration\n"
               "       berth print-default-config                  print the embedded default config\n"
               "       berth --version\n"
               "--config defaults to $BERTH_CONFIG, else the embedded default config.\n";
}

berth::config::Config load(const std::string& path) {
  return path.empty() ? berth::config::loadDefault() : berth::config::loadFromFile(path);
}

}  // namespace

int main(int argc, char** argv) {
  // The container image sets BERTH_CONFIG, so that serving and its
  // HEALTHCHECK read the same file; --config wins over it.
  const char* env_config = std::getenv("BERTH_CONFIG");
  std::string config_path = env_config ? env_config : "", ready_file, command = "serve";
  berth::server::HealthcheckOptions health;
  berth::ops::FsckOptions fsck;
  bool fsck_json = false;
  bool dry_run = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version") {
      std::cout << "berth " << BERTH_VERSION << "\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--ready-file" && i + 1 < argc) {
      ready_file = argv[++i];
    } else if (a == "proxy-config") {
      return berth::ops::runProxyConfig(std::vector<std::string>(argv + i + 1, argv + argc), config_path);
    } else if (a == "import-registry2") {
      return berth::ops::runImportRegistry2(std::vector<std::string>(argv + i + 1, argv + argc), config_path);
    } else if (a == "check-config" || a == "print-default-config" || a == "healthcheck" || a == "fsck" || a == "gc") {
      command = a;
    } else if (command == "gc" && a == "--dry-run") {
      dry_run = true;
    } else if (command == "healthcheck" && a == "--address" && i + 1 < argc) {
      health.address = argv[++i];
    } else if (command == "healthcheck" && a == "--live") {
      health.path = "/health/live";
    } else if (command == "healthcheck" && a == "--timeout" && i + 1 < argc) {
      health.timeout_seconds = static_cast<unsigned>(std::max(1L, std::strtol(argv[++i], nullptr, 10)));
    } else if (command == "fsck" && (a == "--quick" || a == "--json")) {
      (a == "--quick" ? fsck.quick : fsck_json) = true;
    } else {
      std::cerr << "berth: unknown argument '" << a << "'\n";
      usage();
      return 2;
    }
  }
  if (command == "print-default-config") {
    std::cout << berth::config::embeddedDefaultYaml();
    return 0;
  }
  berth::config::Config cfg;
  try {
    cfg = load(config_path);
  } catch (const std::exception& e) {
    std::istringstream problems(e.what());  // a ConfigError has one line per problem
    for (std::string line; std::getline(problems, line);) std::cerr << "berth: invalid configuration: " << line << "\n";
    return command == "fsck" ? 2 : 1;  // fsck: 2 is "could not check"
  }
  if (command == "fsck") return berth::ops::runFsck(cfg, fsck, fsck_json);
  if (command == "healthcheck") return berth::server::runHealthcheck(cfg, health);
  if (command == "gc") {
    berth::observe::setupLogging(cfg.log);
    return berth::server::runGcCommand(cfg, dry_run);
  }
  if (command == "check-config") {
    // Loading checked the ports against each other; binding tells whether
    // something else holds one. The main port is not tried: checking the
    // config of a berth that is running must not fail for its own port.
    auto taken = berth::server::unavailableRepositoryPorts(cfg);
    for (const auto& problem : taken) std::cerr << "berth: invalid configuration: " << problem << "\n";
    if (!taken.empty()) return 1;
    std::cout << "configuration OK (" << (config_path.empty() ? "embedded default" : config_path) << ", "
              << cfg.repositories.size() << " repositories)\n";
    return 0;
  }

  // Signals are taken synchronously by a dedicated thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigset_t stop_set = set;  // what stops the server; SIGHUP does not
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  berth::observe::setupLogging(cfg.log);
  try {
    berth::server::checkStorageRoot(cfg.storage.root);
    berth::server::App app(cfg);
    // SIGHUP and POST /api/system/reload read the same file again (docs/operations.md, "Reloading").
    app.setConfigSource([config_path] { return load(config_path); });
    spdlog::info("berth {} listening on {} (storage {}, {} repositories)", BERTH_VERSION, app.address(),
                 cfg.storage.root, cfg.repositories.size());
    for (const auto& [key, address] : app.repositoryAddresses())
      spdlog::info("repository '{}' listening on {}: /v2/<image>/... there addresses it", key, address);
    if (!ready_file.empty()) {
      std::string tmp = ready_file + ".tmp";
      std::ofstream(tmp) << app.address() << "\n";
      std::rename(tmp.c_str(), ready_file.c_str());
    }
    std::thread signals([&] {
      int sig = 0;
      for (sigwait(&set, &sig); sig == SIGHUP; sigwait(&set, &sig)) app.reload("SIGHUP");
      spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      if (unsigned delay = cfg.server.shutdown_delay_seconds; delay > 0) {
        app.beginDrain();
        spdlog::info("not ready from now on; serving {} s more before stopping (server.shutdown_delay_seconds; "
                     "a second signal stops at once)", delay);
        timespec wait{static_cast<time_t>(delay), 0};
        if (sigtimedwait(&stop_set, nullptr, &wait) > 0) spdlog::info("second signal: stopping now");
      }
      std::size_t left = app.stop();
      if (left > 0) {
        // Their threads still use the server: destroying it now would be a
        // use-after-free. Leave without running destructors; on disk this is
        // the same as a kill -9, which the store is built to survive.
        spdlog::error("{} connections still running after the grace period; exiting without waiting", left);
        spdlog::shutdown();
        std::_Exit(0);
      }
    });
    app.serve();
    signals.join();
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  return 0;
}
