pytest_plugins = ["isp_common.testing.fixtures"]
