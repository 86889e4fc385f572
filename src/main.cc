// berth: flags, config, build the server, run. Nothing else.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "berth/config.h"
#include "observe/logging.h"
#include "server/app.h"
#include "server/port_check.h"

namespace {

void usage() {
  std::cout << "usage: berth [--config FILE] [--ready-file FILE]   serve\n"
               "       berth check-config [--config FILE]          validate a config and exit\n"
               "       berth print-default-config                  print the embedded default config\n"
               "       berth --version\n";
}

berth::config::Config load(const std::string& path) {
  return path.empty() ? berth::config::loadDefault() : berth::config::loadFromFile(path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, ready_file, command = "serve";
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
    } else if (a == "check-config" || a == "print-default-config") {
      command = a;
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
    std::cerr << "berth: invalid configuration: " << e.what() << "\n";
    return 1;
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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  berth::observe::setupLogging(cfg.log);
  try {
    berth::server::App app(cfg);
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
      sigwait(&set, &sig);
      spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
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
