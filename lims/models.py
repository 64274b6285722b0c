"""Import every model module so that the metadata knows all tables (Alembic, tests)."""

from lims.accreditation import models as accreditation  # noqa: F401
from lims.audit import models as audit  # noqa: F401
from lims.auth import models as auth  # noqa: F401
from lims.calibration import models as calibration  # noqa: F401
from lims.instruments import models as instruments  # noqa: F401
from lims.numbering import NumberSeries  # noqa: F401
from lims.readings import models as readings  # noqa: F401
from lims.reports import models as reports  # noqa: F401
from lims.samples import models as samples  # noqa: F401
from lims.supervision import models as supervision  # noqa: F401
