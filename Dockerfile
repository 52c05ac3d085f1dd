# Two stages: the build compiles TypeScript with the dev dependencies; the image that runs holds
# production dependencies and the compiled code only, and runs as an unprivileged user.
# test/component/docker-image.test.ts checks that the build reads nothing these COPY lines leave out.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
COPY schema ./schema
# npm ci runs the build (the prepare script).
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The CLI on the PATH, and a data directory the unprivileged user owns.
RUN ln -s /app/bin/latchkey.js /usr/local/bin/latchkey && mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
# The same V8 flags as `npm start` (package.json config.nodeFlags).
CMD ["sh", "-c", "exec node $(node -p \"require('./package.json').config.nodeFlags\") dist/src/main.js"]
