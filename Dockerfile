FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV NODE_ENV=production
EXPOSE 4000
# The same V8 flags as `npm start` (package.json config.nodeFlags).
CMD ["sh", "-c", "exec node $(node -p \"require('./package.json').config.nodeFlags\") dist/src/main.js"]
