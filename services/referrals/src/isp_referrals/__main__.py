from isp_common.serve import serve

from .bootstrap import build

serve(build)
